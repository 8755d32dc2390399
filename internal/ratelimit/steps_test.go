package ratelimit

import (
	"testing"
	"time"
)

func init() {
	scenarios = append(scenarios, struct {
		name string
		run  func(t *testing.T, l, other, third Limiter[string])
	}{"steps in turn, with a slower lane, and counts given back", func(t *testing.T, nets, pairs, accounts Limiter[string]) {
		// A login's limits: its network, its account from that network,
		// and the account from all, past which it takes a slower lane.
		steps := func(net, pair, account string) []Step[string] {
			return []Step[string]{
				{L: nets, Key: net, Limit: 3, Per: testWindow},
				{L: pairs, Key: pair, Limit: 2, Per: testWindow},
				{L: accounts, Key: account, Limit: 2, Per: testWindow, Spill: true},
				{L: accounts, Key: "slow:" + account, Limit: 1, Per: testWindow},
			}
		}
		remaining := func(l Limiter[string], key string, limit int) int { return l.Peek(key, limit, testWindow).Remaining }

		// Counted in every step that has room; the slower lane is not
		// looked at while the account has room.
		for i, net := range []string{"n1", "n2"} {
			rs, refused := AllowSteps(steps(net, net+"|a", "a")...)
			if refused != -1 || !rs[0].Allowed || rs[0].Remaining != 2 || !rs[1].Allowed || rs[1].Remaining != 1 ||
				!rs[2].Allowed || rs[2].Remaining != 1-i || !inWindow(rs[2]) || rs[3] != (Result{}) {
				t.Fatalf("attempt %d: refused %d, %+v", i+1, refused, rs)
			}
		}
		// Past the account's limit, the slower lane counts the request...
		rs, refused := AllowSteps(steps("n3", "n3|a", "a")...)
		if refused != -1 || rs[2].Allowed || rs[2].Remaining != 0 || !rs[3].Allowed || rs[3].Remaining != 0 || !inWindow(rs[3]) {
			t.Fatalf("the slower lane: refused %d, %+v", refused, rs)
		}
		// ...and refuses the next: nothing of it is counted.
		rs, refused = AllowSteps(steps("n4", "n4|a", "a")...)
		if refused != 3 || rs[3].Allowed || !inWindow(rs[3]) || !rs[0].Allowed || rs[0].Remaining != 3 || rs[1].Remaining != 2 {
			t.Fatalf("the slower lane spent: refused %d, %+v", refused, rs)
		}
		if remaining(nets, "n4", 3) != 3 || remaining(pairs, "n4|a", 2) != 2 || remaining(accounts, "a", 2) != 0 {
			t.Fatal("a refused request was counted")
		}

		// A step that refuses ends the request there: the steps after it
		// are not looked at, those before it get their counts back.
		AllowSteps(steps("n1", "n1|b", "b")...)
		AllowSteps(steps("n5", "n1|b", "b")...)
		rs, refused = AllowSteps(steps("n6", "n1|b", "b")...)
		if refused != 1 || rs[1].Allowed || !inWindow(rs[1]) || rs[2] != (Result{}) || rs[0].Remaining != 3 {
			t.Fatalf("the pair spent: refused %d, %+v", refused, rs)
		}
		if remaining(nets, "n6", 3) != 3 || remaining(accounts, "b", 2) != 0 {
			t.Fatal("the pair's refusal was counted elsewhere")
		}
		AllowSteps(steps("n1", "n1|c", "c")...) // n1's third
		rs, refused = AllowSteps(steps("n1", "n1|d", "d")...)
		if refused != 0 || rs[0].Allowed || !inWindow(rs[0]) || rs[1] != (Result{}) {
			t.Fatalf("the network spent: refused %d, %+v", refused, rs)
		}
		if remaining(pairs, "n1|d", 2) != 2 || remaining(accounts, "d", 2) != 2 {
			t.Fatal("the network's refusal was counted elsewhere")
		}

		// GiveBack: one request of some keys, the whole window of others.
		GiveBack(Undo[string]{L: nets, Key: "n3"}, Undo[string]{L: pairs, Key: "n3|a", Forget: true}, Undo[string]{L: accounts, Key: "slow:a"})
		if remaining(nets, "n3", 3) != 3 || remaining(pairs, "n3|a", 2) != 2 || remaining(accounts, "slow:a", 1) != 1 || remaining(accounts, "a", 2) != 0 {
			t.Fatal("GiveBack did not give back exactly its counts")
		}
		GiveBack(Undo[string]{L: nets, Key: "n1"}, Undo[string]{L: nets, Key: "n1"})
		if remaining(nets, "n1", 3) != 2 {
			t.Fatal("GiveBack of one key twice")
		}
		GiveBack(Undo[string]{L: nets, Key: "missing"})
		if remaining(nets, "missing", 1) != 1 {
			t.Fatal("GiveBack of a key without a window counted")
		}
		// A new window: everything starts over.
		time.Sleep(testWindow + 50*time.Millisecond)
		if rs, refused := AllowSteps(steps("n4", "n4|a", "a")...); refused != -1 || !rs[2].Allowed || rs[2].Remaining != 1 {
			t.Fatalf("next window: refused %d, %+v", refused, rs)
		}
	}})
}
