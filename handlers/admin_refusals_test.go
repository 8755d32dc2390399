package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// Every refusal an admin change can meet has its message, in every
// language, and the refusals table holds nothing else: each change is
// tried on a domain in every status and plan, and each reason is met.
func TestEveryRefusalHasAMessage(t *testing.T) {
	for r, key := range refusals {
		if !r.reason.Valid() {
			t.Errorf("%v: not a reason", r)
		}
		for _, lang := range i18n.Languages {
			if !slices.Contains(i18n.Keys(lang), key) {
				t.Errorf("%s %s: %q is not in the catalogue", r.action, r.reason, key)
			}
		}
	}

	forEachDB(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		db := testdb.Fresh(t, driver)
		u, err := models.NewUserModel(db, 2*time.Second, 4).Insert(ctx, "ivy@example.com", "ivy", "password123")
		if err != nil {
			t.Fatal(err)
		}
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		actor := models.Actor{ID: 1, Email: rootEmail}
		changes := []struct {
			action string
			plan   string // SetPlan's plan
			do     func(id uint64) error
		}{
			{models.ActionRevoke, "", func(id uint64) error { return admin.Revoke(ctx, actor, id, "abuse") }},
			{models.ActionRestore, "", func(id uint64) error { _, err := admin.Restore(ctx, actor, id); return err }},
			{models.ActionPlan, models.PlanFree, func(id uint64) error { return admin.SetPlan(ctx, actor, id, models.PlanFree) }},
			{models.ActionPlan, models.PlanPremium, func(id uint64) error { return admin.SetPlan(ctx, actor, id, models.PlanPremium) }},
			{models.ActionPremiumApprove, "", func(id uint64) error { return admin.AnswerPremium(ctx, actor, id, true) }},
			{models.ActionPremiumDecline, "", func(id uint64) error { return admin.AnswerPremium(ctx, actor, id, false) }},
		}
		met := map[refusal]bool{}
		reasons := map[models.StateReason]bool{}
		n := 0
		for _, status := range []string{models.StatusActive, models.StatusRevoked, models.StatusDeleted} {
			for _, plan := range []string{models.PlanFree, models.PlanPremium} {
				for _, ch := range changes {
					n++
					d, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("d%d.example.com", n), plan)
					if err != nil {
						t.Fatal(err)
					}
					set := map[string]any{"status": status}
					if status == models.StatusDeleted {
						set["host_key"] = nil
					}
					if err := db.Model(&models.Domain{}).Where("id = ?", d.ID).Updates(set).Error; err != nil {
						t.Fatal(err)
					}
					err = ch.do(d.ID)
					var se *models.StateError
					if err == nil {
						continue
					}
					if !errors.As(err, &se) || !errors.Is(err, models.ErrWrongState) {
						t.Errorf("%s %s, domain %s and %s: %v", ch.action, ch.plan, status, plan, err)
						continue
					}
					r := refusal{se.Action, se.Reason}
					if se.Action != ch.action || se.Status != status || se.Plan != plan {
						t.Errorf("%s %s, domain %s and %s: %+v", ch.action, ch.plan, status, plan, se)
					}
					if _, ok := refusals[r]; !ok {
						t.Errorf("%s %s, domain %s and %s: refused (%s) with no message", ch.action, ch.plan, status, plan, se.Reason)
					}
					met[r], reasons[se.Reason] = true, true
				}
			}
		}
		for r := range refusals {
			if !met[r] {
				t.Errorf("no change met %s %s: a message for nothing", r.action, r.reason)
			}
		}
		for reason := models.StateReason(1); reason.Valid(); reason++ {
			if !reasons[reason] {
				t.Errorf("no change was refused as %s", reason)
			}
		}
	})
}
