package config

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// load reads a configuration from env only, with DATA_DIR in a fresh
// directory unless env names one.
func load(t *testing.T, env map[string]string) (*Config, error) {
	t.Helper()
	if _, ok := env["DATA_DIR"]; !ok {
		env["DATA_DIR"] = t.TempDir()
	}
	return Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, quiet)
}

var (
	// Made by openssl rand -hex 32: strong enough for production.
	goodJWT     = "49089fc4dfd3ae3b3ce23cf739a89f3aa8c8beb02bac30fda9b4422f2cf1d865"
	goodSession = "715cc239fd422d36749b8eff4ac55f65a4633ec9bb10b43d2b81c05f8e2a5df8"
)

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := load(t, map[string]string{"DATA_DIR": dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"APP_ENV", c.Env, "development"},
		{"PORT", c.Port, 8002},
		{"DB_DRIVER", c.DBDriver, "sqlite"},
		{"DB_DSN", c.DBDSN, filepath.Join(dir, "nodebird.db")},
		{"DB_STARTUP_TIMEOUT", c.DBStartupTimeout, 30 * time.Second},
		{"DB_QUERY_TIMEOUT", c.DBQueryTimeout, 1500 * time.Millisecond},
		{"DB_MAX_OPEN_CONNS", c.DBMaxOpenConns, 25},
		{"DB_MAX_IDLE_CONNS", c.DBMaxIdleConns, 25},
		{"DB_CONN_MAX_LIFETIME", c.DBConnMaxLife, 3 * time.Minute},
		{"DB_IO_TIMEOUT", c.DBIOTimeout, 30 * time.Second},
		{"TOKEN_TTL", c.TokenTTL, time.Minute},
		{"JWT_ISSUER", c.JWTIssuer, "nodebird"},
		{"METRICS", c.Metrics, true},
		{"METRICS_ADDR", c.MetricsAddr, ""},
		{"SHUTDOWN_DRAIN", c.ShutdownDrain, time.Duration(0)},
		{"SHUTDOWN_GRACE", c.ShutdownGrace, 15 * time.Second},
		{"USAGE_FLUSH", c.UsageFlush, 15 * time.Second},
		{"DOMAIN_CACHE_MAX", c.DomainCacheMax, 1000000},
		{"RATE_LIMITS", c.RateLimits, true},
		{"RATE_CLIENT_SHARES", c.ClientShares, 5},
		{"BCRYPT_COST", c.BcryptCost, 12},
		{"TRUSTED_PROXIES", len(c.TrustedProxies), 0},
		{"REDIS_URL", c.RedisURL, ""},
		{"REDIS_TIMEOUT", c.RedisTimeout, 50 * time.Millisecond},
		{"REDIS_PROBE", c.RedisProbe, time.Second},
		{"production", c.Production(), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestSettingsAreRead(t *testing.T) {
	c, err := load(t, map[string]string{
		"PORT": "0", "DB_DRIVER": "MySQL", "DB_DSN": "u:p@tcp(db:3306)/nb", "DB_QUERY_TIMEOUT": "2s",
		"DB_MAX_OPEN_CONNS": "50", "DB_MAX_IDLE_CONNS": "10", "METRICS": "off", "METRICS_ADDR": ":9102",
		"SHUTDOWN_DRAIN": "5s", "SHUTDOWN_GRACE": "30s", "ADMIN_EMAILS": " A@Example.com ,b@example.com,",
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1 ,::1,fd00::/8",
		"REDIS_URL":       "rediss://:pw@cache:6380/2", "REDIS_TIMEOUT": "80ms", "REDIS_PROBE": "2s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 0 || c.DBDriver != "mysql" || c.DBQueryTimeout != 2*time.Second || c.DBMaxOpenConns != 50 ||
		c.DBMaxIdleConns != 10 || c.Metrics || c.MetricsAddr != ":9102" || c.ShutdownDrain != 5*time.Second ||
		c.ShutdownGrace != 30*time.Second || c.RedisURL != "rediss://:pw@cache:6380/2" ||
		c.RedisTimeout != 80*time.Millisecond || c.RedisProbe != 2*time.Second {
		t.Errorf("settings not read: %+v", c)
	}
	if strings.Join(c.AdminEmails, ",") != "a@example.com,b@example.com" {
		t.Errorf("ADMIN_EMAILS: %q", c.AdminEmails)
	}
	if strings.Join(c.TrustedProxies, ",") != "10.0.0.0/8,192.168.1.1,::1,fd00::/8" {
		t.Errorf("TRUSTED_PROXIES: %q", c.TrustedProxies)
	}
}

func TestProductionSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr []string // each must be in the error; none: loads
	}{
		{"missing", map[string]string{},
			[]string{"JWT_SECRET: required in production", "SESSION_SECRET: required in production", "openssl rand -hex 32"}},
		{"too short", map[string]string{"JWT_SECRET": goodJWT[:MinSecretLen-1], "SESSION_SECRET": goodSession},
			[]string{"JWT_SECRET: required in production, at least 32 bytes"}},
		{"the same twice", map[string]string{"JWT_SECRET": goodJWT, "SESSION_SECRET": goodJWT},
			[]string{"JWT_SECRET and SESSION_SECRET must differ"}},
		{"low bcrypt cost", map[string]string{"JWT_SECRET": goodJWT, "SESSION_SECRET": goodSession, "BCRYPT_COST": "10"},
			[]string{"BCRYPT_COST: 10 is out of range"}},
		{"good", map[string]string{"JWT_SECRET": goodJWT, "SESSION_SECRET": goodSession,
			"SMTP_URL": prodSMTP, "BASE_URL": prodBase}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.env["APP_ENV"], tc.env["DATA_DIR"] = "production", dir
			c, err := load(t, tc.env)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if string(c.JWTSecret) != goodJWT || string(c.SessionSecret) != goodSession || !c.Production() {
					t.Error("the configured secrets were not used")
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("production wrote %d files to DATA_DIR (no generated secrets in production)", len(entries))
			}
		})
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestDevelopmentSecretsGeneratedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	first, err := load(t, map[string]string{"DATA_DIR": dir})
	if err != nil {
		t.Fatal(err)
	}
	if !hex64.Match(first.JWTSecret) || !hex64.Match(first.SessionSecret) || string(first.JWTSecret) == string(first.SessionSecret) {
		t.Fatalf("generated secrets: %q %q", first.JWTSecret, first.SessionSecret)
	}
	for _, name := range []string{"jwt_secret", "session_secret"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	again, err := load(t, map[string]string{"DATA_DIR": dir})
	if err != nil {
		t.Fatal(err)
	}
	if string(again.JWTSecret) != string(first.JWTSecret) || string(again.SessionSecret) != string(first.SessionSecret) {
		t.Error("the development secrets changed between two starts (sessions and tokens would be lost)")
	}
	set, err := load(t, map[string]string{"DATA_DIR": dir, "JWT_SECRET": "explicit-development-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if string(set.JWTSecret) != "explicit-development-secret" || string(set.SessionSecret) != string(first.SessionSecret) {
		t.Error("a configured secret must win over the generated one")
	}
}

func TestBadValues(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, nil, 0o600)
	for _, tc := range []struct {
		name, key, value string
		wantErr          string
	}{
		{"port not a number", "PORT", "http", `PORT: "http" is not a non-negative whole number`},
		{"port too big", "PORT", "70000", "PORT: 70000 is not a TCP port"},
		{"negative number", "DB_MAX_OPEN_CONNS", "-1", `DB_MAX_OPEN_CONNS: "-1" is not a non-negative whole number`},
		{"no connections", "DB_MAX_OPEN_CONNS", "0", "DB_MAX_OPEN_CONNS: must be at least 1"},
		{"more idle than open", "DB_MAX_IDLE_CONNS", "26", "DB_MAX_IDLE_CONNS: 26 is more than DB_MAX_OPEN_CONNS (25)"},
		{"duration without unit", "TOKEN_TTL", "60", `TOKEN_TTL: "60" is not a duration such as 30s or 1m`},
		{"token life too short", "TOKEN_TTL", "500ms", "TOKEN_TTL: must be at least 1s"},
		{"no query time", "DB_QUERY_TIMEOUT", "0s", "DB_QUERY_TIMEOUT: must be at least 10ms"},
		{"connections forever", "DB_CONN_MAX_LIFETIME", "0", "DB_CONN_MAX_LIFETIME: must be at least 1s"},
		{"usage flushed constantly", "USAGE_FLUSH", "10ms", "USAGE_FLUSH: must be at least 1s"},
		{"negative grace", "SHUTDOWN_GRACE", "-1s", `SHUTDOWN_GRACE: "-1s" is not a duration`},
		{"switch", "RATE_LIMITS", "maybe", `RATE_LIMITS: "maybe" is not on/off`},
		{"environment", "APP_ENV", "staging", `APP_ENV: "staging" is not development, production or test`},
		{"body limit", "BODY_LIMIT", "lots", `BODY_LIMIT: "lots" is not a size`},
		{"zero token quota", "RATE_FREE_TOKEN_PER_MIN", "0", "RATE_FREE_TOKEN_PER_MIN: must be at least 1"},
		{"zero client shares", "RATE_CLIENT_SHARES", "0", "RATE_CLIENT_SHARES: must be at least 1"},
		{"zero login failures", "LOGIN_MAX_FAILS_ACCOUNT", "0", "LOGIN_MAX_FAILS_ACCOUNT: must be at least 1"},
		{"zero keys", "RATE_LIMIT_KEYS", "0", "RATE_LIMIT_KEYS: must be at least 1"},
		{"driver", "DB_DRIVER", "postgres", `DB_DRIVER: "postgres" is neither sqlite nor mysql`},
		{"mysql without DSN", "DB_DRIVER", "mysql", "DB_DSN: required when DB_DRIVER=mysql"},
		{"bcrypt cost", "BCRYPT_COST", "3", "BCRYPT_COST: 3 is out of range"},
		{"proxy host name", "TRUSTED_PROXIES", "10.0.0.1,proxy.internal", `TRUSTED_PROXIES: "proxy.internal" is neither an IP address nor a CIDR range`},
		{"proxy bad CIDR", "TRUSTED_PROXIES", "10.0.0.0/33", `TRUSTED_PROXIES: "10.0.0.0/33"`},
		{"metrics address without port", "METRICS_ADDR", "localhost", `METRICS_ADDR: "localhost" is not host:port`},
		{"redis URL of another scheme", "REDIS_URL", "http://:pw@cache:6379/0", "REDIS_URL: not a URL such as redis://"},
		{"redis URL without host", "REDIS_URL", "redis:///0", "REDIS_URL: not a URL such as redis://"},
		{"redis timeout zero", "REDIS_TIMEOUT", "0s", "REDIS_TIMEOUT: must be at least 1ms"},
		{"redis probe constant", "REDIS_PROBE", "1ms", "REDIS_PROBE: must be at least 10ms"},
		{"data dir is a file", "DATA_DIR", notADir, "creating " + notADir + " for the development secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, map[string]string{tc.key: tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s=%q: error %v, want one saying %q", tc.key, tc.value, err, tc.wantErr)
			}
			if tc.key == "REDIS_URL" && strings.Contains(err.Error(), ":pw@") {
				t.Errorf("the error shows REDIS_URL's password: %v", err)
			}
		})
	}
}

// Every problem is reported at once, one per line.
func TestAllProblemsAtOnce(t *testing.T) {
	_, err := load(t, map[string]string{"PORT": "x", "TOKEN_TTL": "y", "DB_DRIVER": "z"})
	if err == nil {
		t.Fatal("loaded")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Errorf("want 3 lines, got %q", err)
	}
}
