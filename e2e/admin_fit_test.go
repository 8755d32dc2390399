package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/models"
)

// The admin console fits the screen (issue 18 point 1): the domain list
// and a domain's page, at 1,024, 1,280 and 1,920 px and on a 390 px phone,
// in English and Korean, with 50 domains of long hosts, long emails and
// Korean nicknames.

// seedConsole gives ten owners with Korean nicknames and long emails
// five domains each (50, long hosts among them) and returns the host of
// the longest, with its id.
func seedConsole(t *testing.T, a *app) (string, uint64) {
	t.Helper()
	ctx := context.Background()
	users := models.NewUserModel(a.db, 5*time.Second, 4)
	domains := models.NewDomainModel(a.db, 5*time.Second)
	nicks := []string{"김민수", "이서연", "박지훈", "최유진", "정하늘", "강도윤", "조서아", "윤지우", "장예린", "임채원"}
	cities := []string{"seoul", "busan", "incheon", "daegu", "gwangju"}
	var longest string
	var longestID uint64
	for i, nick := range nicks {
		email := fmt.Sprintf("operations.team-%02d@%s-branch.example.co.kr", i, cities[i%len(cities)])
		u, err := users.Insert(ctx, email, nick, password)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			host := fmt.Sprintf("shop-%d.example.com", i*5+j)
			switch j {
			case 1:
				host = fmt.Sprintf("api-gateway-%02d.%s-branch.example.co.kr", i, cities[j])
			case 2:
				host = fmt.Sprintf("checkout.payments-%02d.%s.example.com", i, cities[i%len(cities)])
			}
			plan := models.PlanFree
			if j%2 == 1 {
				plan = models.PlanPremium
			}
			d, _, err := domains.Insert(ctx, u.ID, host, plan)
			if err != nil {
				t.Fatal(err)
			}
			if len(host) > len(longest) {
				longest, longestID = host, d.ID
			}
		}
	}
	return longest, longestID
}

// fitsReport is what fitsJS finds wrong on the page, "" when nothing:
// the page wider than the window, or an element reaching past its right
// edge (or its left).
const fitsJS = `(() => {
	const w = innerWidth, out = [];
	if (document.documentElement.scrollWidth > w) out.push('page is ' + document.documentElement.scrollWidth + 'px wide in ' + w);
	for (const el of document.querySelectorAll('body *')) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || !el.checkVisibility()) continue;
		if (r.right > w + 0.5 || r.left < -0.5) {
			out.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\s+/g, '.') : '') +
				' ' + Math.round(r.left) + '..' + Math.round(r.right));
		}
	}
	return out.slice(0, 8).join('; ');
})()`

// onScreenJS reports each element of the selector that is not wholly
// inside the window's width, or not shown.
const onScreenJS = `((sel) => {
	const out = [];
	for (const el of document.querySelectorAll(sel)) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || !el.checkVisibility()) { out.push(sel + ' "' + el.textContent.trim() + '" not shown'); continue; }
		if (r.left < 0 || r.right > innerWidth) out.push(sel + ' "' + el.textContent.trim() + '" at ' + Math.round(r.left) + '..' + Math.round(r.right));
	}
	return out.join('; ');
})`

// unbrokenJS reports a host, an email or a Korean word that is laid out on
// more than one line although it would fit on one: a break is allowed only
// where the text is wider than its container's line. Each host and email
// is an element (.host, .email); each Korean word is a Range over the word.
const unbrokenJS = `(() => {
	const out = [];
	// The width the text takes on one line, and the width of its line.
	const natural = (text, from) => {
		const probe = document.createElement('span');
		probe.textContent = text;
		probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;left:0;top:0';
		from.appendChild(probe);
		const w = probe.getBoundingClientRect().width;
		probe.remove();
		return w;
	};
	const lineOf = (el) => {
		let box = el;
		while (box && getComputedStyle(box).display.startsWith('inline')) box = box.parentElement;
		const s = getComputedStyle(box);
		return box.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
	};
	const lines = (rects) => new Set([...rects].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
	const hidden = (el) => !el || el.closest('.visually-hidden, option, select, title, script, style, svg') || !el.checkVisibility();
	for (const el of document.querySelectorAll('.host, .email')) {
		if (hidden(el)) continue;
		if (lines(el.getClientRects()) > 1 && natural(el.textContent, el.parentElement) <= lineOf(el)) {
			out.push('"' + el.textContent + '" breaks although it fits (' + Math.round(natural(el.textContent, el.parentElement)) + ' in ' + Math.round(lineOf(el)) + ')');
		}
	}
	if (document.documentElement.lang === 'ko') {
		const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		const word = /[^\s]*[\uac00-\ud7a3][^\s]*/g;
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			if (hidden(n.parentElement)) continue;
			for (const m of n.data.matchAll(word)) {
				const r = document.createRange();
				r.setStart(n, m.index);
				r.setEnd(n, m.index + m[0].length);
				if (lines(r.getClientRects()) > 1 && natural(m[0], n.parentElement) <= lineOf(n.parentElement)) {
					out.push('"' + m[0] + '" breaks although it fits');
				}
			}
		}
	}
	return out.slice(0, 8).join('; ');
})()`

// oneLineRowsJS reports each domain row of the list that is not one line
// on a phone: taller than 56 px or shorter than a 44 px tap target, its
// host on more than one line, not whole in its title and text, cut other
// than with an ellipsis, its status not shown, or a tap on its host not
// reaching the row's link to the domain's page (each row is scrolled to
// for that). It ends with "|" and how many hosts the ellipsis cuts.
const oneLineRowsJS = `(() => {
	const out = [];
	let cut = 0;
	const rows = document.querySelectorAll('[data-testid="admin-domain-row"]');
	if (rows.length === 0) return 'no rows';
	for (const row of rows) {
		const h = row.getBoundingClientRect().height, host = row.querySelector('[data-testid="host"]');
		const name = row.dataset.host;
		if (h > 56 || h < 44) out.push(name + ': row ' + Math.round(h) + ' px tall');
		if (!host.checkVisibility()) { out.push(name + ': host not shown'); continue; }
		const r = document.createRange();
		r.selectNodeContents(host);
		const tops = new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top)));
		if (tops.size !== 1) out.push(name + ': host on ' + tops.size + ' lines');
		if (host.textContent !== name || host.title !== name) out.push(name + ': host text "' + host.textContent + '", title "' + host.title + '"');
		if (host.scrollWidth > host.clientWidth) {
			cut++;
			if (getComputedStyle(host).textOverflow !== 'ellipsis') out.push(name + ': cut without an ellipsis');
		}
		const status = row.querySelector('[data-testid="status"]'), sb = status.getBoundingClientRect();
		if (!status.checkVisibility() || sb.right > innerWidth || Math.round(sb.top) < Math.round(row.getBoundingClientRect().top)) out.push(name + ': status not shown on the line');
		row.scrollIntoView({block: 'center'});
		const hb = host.getBoundingClientRect();
		const hit = document.elementFromPoint(hb.left + Math.min(hb.width / 2, 40), hb.top + hb.height / 2);
		const link = row.querySelector('[data-testid="manage"]');
		if (!hit || hit.closest('[data-testid="manage"]') !== link) out.push(name + ': a tap on the host reaches ' + (hit ? hit.tagName : 'nothing'));
		if (!link.textContent.includes(name)) out.push(name + ': the link does not name the host');
	}
	return out.slice(0, 8).join('; ') + '|' + cut;
})()`

func TestAdminConsoleFits(t *testing.T) {
	a := startApp(t)
	longHost, longID := seedConsole(t, a)

	en := newBrowser(t, "en")
	en.signup(a.URL, "root@example.com", "root", password)
	if err := models.NewUserModel(a.db, 5*time.Second, 4).SetAdmin(context.Background(), "root@example.com", true); err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("%s/admin/domains/%d", a.URL, longID)
	// A history on the domain's page: revoked, then restored, from the page.
	en.open(page, `[data-testid="admin-domain-actions"]`)
	en.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-domain-actions"] summary.button-danger`)))
	en.fill(`[data-testid="revoke-reason"]`, "피싱 페이지를 올렸습니다 (phishing pages)")
	en.submit(`[data-testid="confirm-revoke"]`, `[data-testid="flash"]`)
	if loc := en.location(); loc != page {
		t.Fatalf("revoking from the domain's page led to %s", loc)
	}
	en.mustSee(`[data-testid="flash"]`, "Domain revoked")
	en.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-domain-actions"] summary`)))
	en.submit(`[data-testid="confirm-restore"]`, `[data-testid="flash"]`)
	if n := en.count(`[data-testid="audit-row"]`); n != 2 {
		t.Fatalf("the domain's history shows %d entries, want 2", n)
	}

	ko := newBrowser(t, "ko")
	ko.login(a.URL, "root@example.com", password)

	list := a.URL + "/admin/domains"
	for _, b := range []struct {
		lang string
		*browser
	}{{"en", en}, {"ko", ko}} {
		for _, w := range []int64{1024, 1280, 1920} {
			b.viewport(w, 900, false, 1)
			what := fmt.Sprintf("%s at %d px", b.lang, w)

			b.open(list, `[data-testid="admin-domains"]`)
			if n := b.count(`[data-testid="admin-domain-row"]`); n != 50 {
				t.Fatalf("%s: the list shows %d rows, want 50", what, n)
			}
			if got := b.eval(fitsJS); got != "" {
				t.Errorf("the list, %s: %s", what, got)
			}
			if got := b.eval(onScreenJS + `('[data-testid="manage"], [data-testid="admin-filter-apply"], #f-owner')`); got != "" {
				t.Errorf("the list, %s: %s", what, got)
			}
			if got := b.eval(unbrokenJS); got != "" {
				t.Errorf("the list, %s: %s", what, got)
			}
			rowHeight := b.eval(`String(Math.max(...[...document.querySelectorAll('[data-testid="admin-domain-row"]')].map(r => r.getBoundingClientRect().height)))`)
			t.Logf("the list, %s: tallest row %s px, page %s px tall", what, rowHeight, b.eval(`String(document.documentElement.scrollHeight)`))

			b.open(page, `[data-testid="admin-domain-actions"]`)
			if got := b.eval(fitsJS); got != "" {
				t.Errorf("the domain's page, %s: %s", what, got)
			}
			if got := b.eval(onScreenJS + `('[data-testid="admin-domain-actions"] summary')`); got != "" {
				t.Errorf("the domain's page, %s: %s", what, got)
			}
			// Each confirmation, opened, fits too, with its buttons.
			for i := range b.count(`[data-testid="admin-domain-actions"] details.confirm`) {
				b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="admin-domain-actions"] details.confirm:nth-of-type(%d) summary`, i+1))))
				if got := b.eval(fitsJS); got != "" {
					t.Errorf("the domain's page with confirmation %d open, %s: %s", i+1, what, got)
				}
				if got := b.eval(onScreenJS + `('details.confirm[open] button, details.confirm[open] p')`); got != "" {
					t.Errorf("the domain's page with confirmation %d open, %s: %s", i+1, what, got)
				}
			}
			if got := b.eval(unbrokenJS); got != "" {
				t.Errorf("the domain's page, %s: %s", what, got)
			}
		}

		// A phone: the filters behind one button, only vertical scrolling,
		// nothing broken mid-word.
		b.viewport(390, 844, true, 2)
		what := b.lang + " at 390 px"
		b.open(list, `[data-testid="admin-domains"]`)
		if got := b.eval(`String(document.querySelector('[data-testid="admin-filters-box"]').open) + ' ' + String(document.querySelector('#f-host').checkVisibility())`); got != "false false" {
			t.Errorf("the list, %s: filters open, fields shown: %s, want them folded", what, got)
		}
		if got := b.eval(onScreenJS + `('[data-testid="admin-filters-toggle"], [data-testid="manage"]')`); got != "" {
			t.Errorf("the list, %s: %s", what, got)
		}
		if got := b.eval(fitsJS); got != "" {
			t.Errorf("the list, %s: %s", what, got)
		}
		if got := b.eval(unbrokenJS); got != "" {
			t.Errorf("the list, %s: %s", what, got)
		}
		// One line per domain.
		bad, cut, _ := strings.Cut(b.eval(oneLineRowsJS), "|")
		if bad != "" {
			t.Errorf("the list, %s: %s", what, bad)
		}
		if cut == "0" {
			t.Errorf("the list, %s: no host is cut with an ellipsis, though the longest is %q", what, longHost)
		}
		t.Logf("the list, %s: page %s px tall for 50 domains, %s hosts cut with an ellipsis", what, b.eval(`String(document.documentElement.scrollHeight)`), cut)
		b.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-filters-toggle"]`)))
		if got := b.eval(`String(document.querySelector('#f-host').checkVisibility())`); got != "true" {
			t.Errorf("the list, %s: the filter button does not show the filters", what)
		}
		if got := b.eval(fitsJS); got != "" {
			t.Errorf("the list with the filters open, %s: %s", what, got)
		}
		b.fill("#f-host", "api-gateway")
		b.submit(`[data-testid="admin-filter-apply"]`, `[data-testid="admin-domains"]`)
		if n := b.count(`[data-testid="admin-domain-row"]`); n != 10 || !strings.Contains(b.location(), "host=api-gateway") {
			t.Errorf("filtering on a phone: %d rows at %s, want the 10 api-gateway hosts", n, b.location())
		}

		b.open(page, `[data-testid="admin-domain-actions"]`)
		b.mustSee(`[data-testid="domain-heading"]`, longHost)
		if got := b.eval(fitsJS); got != "" {
			t.Errorf("the domain's page, %s: %s", what, got)
		}
		if got := b.eval(onScreenJS + `('[data-testid="admin-domain-actions"] summary')`); got != "" {
			t.Errorf("the domain's page, %s: %s", what, got)
		}
		if got := b.eval(unbrokenJS); got != "" {
			t.Errorf("the domain's page, %s: %s", what, got)
		}
		b.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-domain-actions"] summary.button-danger`)))
		if got := b.eval(fitsJS); got != "" {
			t.Errorf("the domain's page with the revoke confirmation open, %s: %s", what, got)
		}
		if got := b.eval(onScreenJS + `('[data-testid="confirm-revoke"], details.confirm[open] [data-close], details.confirm[open] p')`); got != "" {
			t.Errorf("the domain's page with the revoke confirmation open, %s: %s", what, got)
		}
	}
}

// TestAdminConsoleAccessibility: axe-core on the compact list and the
// domain's page (a confirmation open too), in English and Korean.
func TestAdminConsoleAccessibility(t *testing.T) {
	a := startApp(t)
	_, id := seedConsole(t, a)
	var b *browser
	for i, lang := range []string{"en", "ko"} {
		b = newBrowser(t, lang)
		if i == 0 {
			b.signup(a.URL, "root@example.com", "root", password)
			if err := models.NewUserModel(a.db, 5*time.Second, 4).SetAdmin(context.Background(), "root@example.com", true); err != nil {
				t.Fatal(err)
			}
		} else {
			b.login(a.URL, "root@example.com", password)
		}
		b.open(a.URL+"/admin/domains", `[data-testid="admin-domains"]`)
		b.axe(lang + " admin list")
		b.viewport(390, 844, true, 2)
		b.open(a.URL+"/admin/domains", `[data-testid="admin-domains"]`)
		b.axe(lang + " admin list on a phone")
		b.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-filters-toggle"]`)))
		b.axe(lang + " admin list on a phone, filters open")
		b.viewport(1280, 900, false, 1)
		page := fmt.Sprintf("%s/admin/domains/%d", a.URL, id)
		b.open(page, `[data-testid="admin-domain-actions"]`)
		b.axe(lang + " domain page")
		b.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-domain-actions"] summary.button-danger`)))
		b.axe(lang + " domain page, revoke confirmation open")
	}
}
