// Command nodebird runs the NodeBird API: the portal where website owners
// register domains, and the /v1 token API their sites call.
//
//	nodebird                       serve (settings from the environment or .env)
//	nodebird admin grant EMAIL     give an account the admin role
//	nodebird admin revoke EMAIL    take it away
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/joho/godotenv"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/handlers"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/models"
)

//go:embed templates static
var files embed.FS

func main() {
	// A collection every 5x the live heap rather than 2x: under load the app
	// allocates ~10 KB a request and its live heap is small, so GOGC=100
	// collects many times a second. Peak RSS with 10,000 domains stays near
	// 70 MB (load test). GOGC in the environment still wins.
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(400)
	}
	if err := run(context.Background(), os.Args[1:], lookupEnv(), os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nodebird:", err)
		os.Exit(1)
	}
}

// lookupEnv reads the environment, then an optional .env file for what the
// environment does not set.
func lookupEnv() func(string) (string, bool) {
	dotenv, _ := godotenv.Read(".env")
	return func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		v, ok := dotenv[k]
		return v, ok
	}
}

// run is main without the process: tests call it with their own settings
// and a ready channel that receives the listening address.
//
// Serving ends on SIGINT or SIGTERM (or when ctx ends): readiness fails at
// once; after SHUTDOWN_DRAIN the listener closes (new connections are
// refused) and requests in flight get up to SHUTDOWN_GRACE to finish; then
// the background work stops, the database closes and run returns nil. A
// second signal during the shutdown ends the process at once.
func run(ctx context.Context, args []string, env func(string) (string, bool), logOut *os.File, ready chan<- string) error {
	cfg, err := config.Load(env, slog.New(slog.NewTextHandler(logOut, nil)))
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	var log *slog.Logger
	if cfg.Production() {
		// Lines are buffered and written every 100 ms (and at exit), with
		// no lock shared by every request on the way (logbuf.go), the
		// request lines formatted by a short path (loghandler.go).
		lines, stopLines, linesDone := newLineBuffer(logOut), make(chan struct{}), make(chan struct{})
		go func() { lines.flushEvery(100*time.Millisecond, stopLines); close(linesDone) }()
		defer func() { close(stopLines); <-linesDone }()
		log = slog.New(newFlatJSONHandler(lines, nil, slog.NewJSONHandler(lines, nil)))
	} else {
		log = slog.New(slog.NewTextHandler(logOut, nil))
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	db, err := models.Open(ctx, models.Options{
		Driver: cfg.DBDriver, DSN: cfg.DBDSN, MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLife, StartupTimeout: cfg.DBStartupTimeout, IOTimeout: cfg.DBIOTimeout,
	}, log)
	if err != nil {
		if ctx.Err() != nil { // asked to stop while waiting for the database
			log.Info("stopped before the database was reachable")
			return nil
		}
		return err
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := models.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrating the database: %w", err)
	}

	if len(args) > 0 {
		return command(ctx, args, cfg, db, os.Stdout)
	}

	app, err := handlers.New(cfg, log, db, files)
	if err != nil {
		return err
	}
	if err := app.Cache.Refresh(ctx); err != nil {
		return fmt.Errorf("loading the domains: %w", err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	servers := []*http.Server{srv}
	serveErr := make(chan error, 2)
	if cfg.Metrics && cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", app.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, msrv)
		go func() { serveErr <- msrv.Serve(mln) }()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { app.Cache.Run(bg, cfg.CacheRefresh); done <- struct{}{} }()
	go func() { app.Counter.Run(bg, cfg.UsageFlush); done <- struct{}{} }()
	stopAll := func(sctx context.Context) error {
		var errs []error
		for _, s := range servers {
			err := s.Shutdown(sctx)
			if errors.Is(err, context.DeadlineExceeded) {
				log.Warn("shutdown grace period over: closing the connections still open", "grace", cfg.ShutdownGrace)
				err = s.Close()
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		stopBG()
		<-done
		<-done
		return errors.Join(errs...)
	}

	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "db", cfg.DBDriver, "env", cfg.Env)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-serveErr: // a listener failed: stop the rest
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		return errors.Join(fmt.Errorf("serving: %w", err), stopAll(sctx))
	case <-ctx.Done():
	}
	stop() // a second signal ends the process at once
	log.Info("shutting down", "drain", cfg.ShutdownDrain, "grace", cfg.ShutdownGrace)
	app.StartShutdown()
	if cfg.ShutdownDrain > 0 {
		time.Sleep(cfg.ShutdownDrain) // readiness fails; everything is still served
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := stopAll(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// command runs a maintenance command instead of serving.
func command(ctx context.Context, args []string, cfg *config.Config, db *gorm.DB, out io.Writer) error {
	const usage = "usage: nodebird admin grant EMAIL | nodebird admin revoke EMAIL"
	if len(args) != 3 || args[0] != "admin" || (args[1] != "grant" && args[1] != "revoke") {
		return errors.New(usage)
	}
	email := strings.ToLower(strings.TrimSpace(args[2]))
	users := models.NewUserModel(db, cfg.DBQueryTimeout, cfg.BcryptCost)
	err := users.SetAdmin(ctx, email, args[1] == "grant")
	if errors.Is(err, models.ErrNoRecord) {
		return fmt.Errorf("no account with the email %q", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: admin role %sed\n", email, map[bool]string{true: "grant", false: "revok"}[args[1] == "grant"])
	return nil
}
