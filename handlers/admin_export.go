package handlers

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// CSV exports of the admin console: the domain list and the audit log,
// each with the filters of its page. They are streamed: rows are written
// as the models read them, a keyset page at a time, and flushed to the
// client after each page, so that a million rows never sit in memory and
// the first bytes leave at once. Every page also renews the connection's
// write deadline (HTTP_WRITE_TIMEOUT): a long export is not cut off while
// it keeps making progress.

// exportPageSize is how many rows each query of an export reads (a
// variable so that tests can make exports span many pages).
var exportPageSize = 1000

// csvCell makes a text cell safe to open in a spreadsheet: a cell that
// starts with = + - @ (or a tab or carriage return) would be read as a
// formula (CSV injection, OWASP), so it is prefixed with a quote, which
// spreadsheets show as text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvTime is a time as the exports write it (RFC 3339, UTC), "" for none.
func csvTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvStream writes a CSV download called name+date.csv: the header, then
// the rows that export hands to its write function, page by page. The
// response starts with the first page (or at the end, for an empty
// export), so that an export that fails before it is an ordinary error
// page; one that fails later is cut off (the client sees an incomplete
// transfer, never a file that looks whole).
func (a *App) csvStream(c echo.Context, name string, header []string,
	export func(write func(rows [][]string) error) error) error {
	res := c.Response()
	w := csv.NewWriter(res)
	rc := http.NewResponseController(res)
	start := func() {
		if res.Committed {
			return
		}
		h := res.Header()
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		h.Set(echo.HeaderContentDisposition,
			`attachment; filename="`+name+"-"+time.Now().UTC().Format("20060102")+`.csv"`)
		h.Set("Cache-Control", "no-store")
		res.WriteHeader(http.StatusOK)
		_ = w.Write(header)
	}
	if c.Request().Method == http.MethodHead {
		start()
		return nil
	}
	err := export(func(rows [][]string) error {
		start()
		if a.config.WriteTimeout > 0 { // 0: the server sets no deadline
			_ = rc.SetWriteDeadline(time.Now().Add(a.config.WriteTimeout))
		}
		if err := w.WriteAll(rows); err != nil { // WriteAll flushes
			return err
		}
		return rc.Flush()
	})
	if err != nil && res.Committed {
		a.log.Error("CSV export cut off", "export", name, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		return err
	}
	start()
	w.Flush()
	return w.Error()
}

// adminDomainsCSV downloads the domains the list's filters select (owner,
// host, plan, status, dir; user=ID for one user's), in the order they were
// registered.
func (a *App) adminDomainsCSV(c echo.Context) error {
	f, err := parseAdminFilter(c.QueryParams())
	if err != nil {
		return err
	}
	mf := models.DomainFilter{Owner: f.Owner, Host: f.Host, Plan: f.Plan, Status: f.Status, Asc: f.Dir == "asc"}
	if s := strings.TrimSpace(c.QueryParam("user")); s != "" {
		id, ok := parseID(s)
		if !ok {
			return echo.NewHTTPError(http.StatusBadRequest, "admin.err.filter.id")
		}
		mf.OwnerID, mf.Owner = id, ""
	}
	header := []string{"id", "host", "owner_nick", "owner_email", "plan", "status", "premium_requested",
		"tokens_issued", "last_token_at", "last_failed_at", "created_at"}
	return a.csvStream(c, "domains", header, func(write func([][]string) error) error {
		return a.admin.ExportDomains(c.Request().Context(), mf, exportPageSize, func(ds []models.AdminDomain) error {
			rows := make([][]string, len(ds))
			for i, d := range ds {
				rows[i] = []string{
					strconv.FormatUint(d.ID, 10), csvCell(d.Host), csvCell(d.OwnerNick), csvCell(d.OwnerEmail),
					d.Plan, d.Status, strconv.FormatBool(d.PremiumRequested), strconv.FormatInt(d.TokensIssued, 10),
					csvTime(d.LastTokenAt), csvTime(d.LastFailedAt), csvTime(&d.CreatedAt),
				}
			}
			return write(rows)
		})
	})
}

// adminAuditCSV downloads the entries the audit log's filters select,
// newest first.
func (a *App) adminAuditCSV(c echo.Context) error {
	f, err := parseAuditFilter(c.QueryParams())
	if err != nil {
		return err
	}
	header := []string{"id", "time", "actor_email", "action", "domain_id", "host", "user_id", "user_email",
		"before", "after", "note"}
	return a.csvStream(c, "audit", header, func(write func([][]string) error) error {
		return a.audit.Export(c.Request().Context(), f.model, exportPageSize, func(es []models.AuditRow) error {
			rows := make([][]string, len(es))
			for i, e := range es {
				rows[i] = []string{
					strconv.FormatUint(e.ID, 10), csvTime(&e.CreatedAt), csvCell(e.ActorEmail), e.Action,
					strconv.FormatUint(e.DomainID, 10), csvCell(e.Host), strconv.FormatUint(e.UserID, 10),
					csvCell(e.UserEmail), csvCell(e.Before), csvCell(e.After), csvCell(e.Note),
				}
			}
			return write(rows)
		})
	})
}
