package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
)

// Run serves the application until ctx ends, then shuts down in order.
//
// It listens on PORT (and METRICS_ADDR), calls ready with the address it
// listens on, and runs the background loops: the domain view's load (in
// pages; /readyz answers 503 until it is done, while the API answers from
// the database what the view does not hold yet) and refresh, and the
// usage counts' flush. When ctx ends,
// readiness fails at once; after SHUTDOWN_DRAIN the listeners close (new
// connections are refused) and requests in flight get up to SHUTDOWN_GRACE
// to finish; then the background loops stop (the usage counts are flushed
// one last time) and Run returns nil. If a listener fails, everything stops
// and Run returns the error.
func (a *App) Run(ctx context.Context, ready func(addr string)) error {
	cfg := a.config
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	servers := []*http.Server{a.server(a.handler, cfg.ReadTimeout, cfg.WriteTimeout)}
	listeners := []net.Listener{ln}
	if cfg.Metrics && cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metricsHandler())
		servers = append(servers, a.server(mux, 30*time.Second, 30*time.Second))
		listeners = append(listeners, mln)
		a.log.Info("serving metrics", "addr", mln.Addr().String())
	} else if cfg.Metrics && !a.metricsOnAppPort() {
		a.log.Info("metrics not served: in production /metrics needs METRICS_ADDR, or METRICS_TOKEN to serve it on the app's port")
	}

	// background ends after the servers have stopped, so that the last
	// requests' usage is counted before the final flush.
	background, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	loops := make(chan error, 1)
	go func() {
		var g errgroup.Group
		g.Go(func() error { a.cache.Run(background, cfg.CacheRefresh); return nil })
		g.Go(func() error { a.tokenCounts.Run(background, cfg.UsageFlush); return nil })
		if a.limitStore != nil {
			g.Go(func() error { a.limitStore.Run(background, cfg.RedisProbe); return nil })
			g.Go(func() error { a.changes.Run(background, a.changedElsewhere, a.resync); return nil })
		}
		loops <- g.Wait()
	}()

	serving, stopServing := context.WithCancel(ctx)
	defer stopServing()
	g, gctx := errgroup.WithContext(serving)
	for i, srv := range servers {
		g.Go(func() error {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil { // asked to stop (not a failed listener): drain first
			a.log.Info("shutting down", "drain", cfg.ShutdownDrain, "grace", cfg.ShutdownGrace)
			a.shuttingDown.Store(true)
			if cfg.ShutdownDrain > 0 {
				time.Sleep(cfg.ShutdownDrain) // readiness fails; everything is still served
			}
		}
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		var errs []error
		for _, srv := range servers {
			err := srv.Shutdown(sctx)
			if errors.Is(err, context.DeadlineExceeded) {
				a.log.Warn("shutdown grace period over: closing the connections still open", "grace", cfg.ShutdownGrace)
				err = srv.Close()
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	a.log.Info("serving", "addr", ln.Addr().String(), "db", cfg.DBDriver, "env", cfg.Env)
	if ready != nil {
		ready(ln.Addr().String())
	}
	err = g.Wait()
	stopBackground()
	err = errors.Join(err, <-loops)
	a.waitMails() // each within its send timeout
	if err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// server is an http.Server for h with the configured timeouts.
func (a *App) server(h http.Handler, read, write time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: a.config.ReadHeaderTimeout,
		ReadTimeout:       read,
		WriteTimeout:      write,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}
