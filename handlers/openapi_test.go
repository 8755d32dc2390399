package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The OpenAPI document (static/openapi.json) is checked against the
// server three ways: every answer under /v1 that any test's server gives
// is validated against it (openAPIChecked, in serveApp), every route of
// the API's table must have its operation there and every operation its
// route (TestOpenAPICoversEveryRoute), and the validator must refuse
// answers that break it (TestOpenAPIValidatorRefusesDrift).

// openAPI is the document and a router over it, loaded once.
var openAPI = sync.OnceValues(func() (*openAPISpec, error) {
	b, err := os.ReadFile("../static/openapi.json")
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	// noRoute stands for the answers of URLs and methods the API does not
	// serve (404, 405, 410 for a retired version, and what the middleware
	// may answer first).
	noRoute := openapi3.NewOperation()
	noRoute.Responses = openapi3.NewResponses()
	for status, name := range map[int]string{404: "NotFound", 405: "MethodNotAllowed", 410: "Gone", 413: "BodyTooLarge", 500: "InternalError"} {
		noRoute.Responses.Set(fmt.Sprint(status), doc.Components.Responses[name])
	}
	return &openAPISpec{raw: b, doc: doc, router: router, noRoute: noRoute}, nil
})

type openAPISpec struct {
	raw     []byte
	doc     *openapi3.T
	router  routers.Router
	noRoute *openapi3.Operation
}

func mustOpenAPI(t testing.TB) *openAPISpec {
	t.Helper()
	spec, err := openAPI()
	if err != nil {
		t.Fatalf("static/openapi.json: %v", err)
	}
	return spec
}

// validate checks one answer to req against the document: its operation's
// response for the status (an undocumented status fails), headers and
// body. An answer of a URL or method the document does not have must be
// one of noRoute's.
func (s *openAPISpec) validate(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := s.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		route = &routers.Route{Spec: s.doc, Path: req.URL.Path, Method: req.Method, Operation: s.noRoute}
		if req.Method == http.MethodHead { // no body to check: the status at least
			if s.noRoute.Responses.Status(status) == nil {
				return fmt.Errorf("status %d is not documented for URLs the API does not serve", status)
			}
			return nil
		}
	case err != nil:
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if req.Method == http.MethodHead { // ValidateResponse skips HEAD: the status at least
		if route.Operation.Responses.Status(status) == nil {
			return fmt.Errorf("HEAD %s: status %d is not documented", route.Path, status)
		}
		return nil
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// openAPIChecked passes every request to h and validates each answer
// under /v1 against the OpenAPI document, failing t (the test that
// started the server) when one does not match it.
func openAPIChecked(t testing.TB, h http.Handler) http.Handler {
	spec := mustOpenAPI(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if tw.status == 0 {
			tw.status = http.StatusOK
		}
		if err := spec.validate(r, tw.status, w.Header(), tw.body.Bytes()); err != nil {
			t.Errorf("OpenAPI: %s %s answered %d, not as static/openapi.json says: %v\n%s",
				r.Method, r.URL.RequestURI(), tw.status, err, tw.body.Bytes())
		}
	})
}

// teeWriter copies what a handler writes, passing it through unchanged.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestOpenAPIDocument: GET /openapi.json serves the repository's
// document, a valid OpenAPI 3.1 description (readable from any origin),
// and /docs links to it.
func TestOpenAPIDocument(t *testing.T) {
	spec := mustOpenAPI(t)
	if spec.doc.OpenAPI != "3.1.0" || !spec.doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1.0", spec.doc.OpenAPI)
	}
	s := newTestServer(t, "sqlite")
	r := s.client(t).get("/openapi.json")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Body != string(spec.raw) {
		t.Fatalf("/openapi.json: %d %q, %d bytes (want the %d of static/openapi.json)", r.Status, r.Header.Get("Content-Type"), len(r.Body), len(spec.raw))
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("Access-Control-Allow-Origin %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	mustContain(t, "/docs", s.client(t).get("/docs").Body, `href="/openapi.json"`)

	// Every error id /docs lists (TestDocsListEveryErrorID holds it to the
	// API's tables) is in the document's enum, and under its own status.
	byStatus := map[string][]any{}
	for _, r := range spec.doc.Components.Responses {
		schema := r.Value.Content.Get("application/json").Schema.Value
		byStatus[fmt.Sprint(schema.Properties["code"].Value.Const)] = schema.Properties["error"].Value.Enum
	}
	var ids, enum []string
	for _, e := range errorIDList {
		ids = append(ids, e.ID)
		if !slices.Contains(byStatus[fmt.Sprint(e.Status)], any(e.ID)) {
			t.Errorf("%s: not among the document's ids for %d (%v)", e.ID, e.Status, byStatus[fmt.Sprint(e.Status)])
		}
	}
	for _, v := range spec.doc.Components.Schemas["Error"].Value.Properties["error"].Value.Enum {
		enum = append(enum, v.(string))
	}
	slices.Sort(ids)
	slices.Sort(enum)
	if !slices.Equal(ids, enum) {
		t.Errorf("the document's error ids %v, /docs lists %v", enum, ids)
	}
}

// TestOpenAPICoversEveryRoute: every route of the API's table has its
// operation in the document, and every operation its route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	spec := mustOpenAPI(t)
	s := newTestServer(t, "sqlite")
	served := map[string]bool{}
	for _, r := range s.app.api.Routes() {
		path := echoParam.ReplaceAllString(r.Path, "{$1}")
		served[r.Method+" "+path] = true
		if item := spec.doc.Paths.Value(path); item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s (routes.go) has no operation in static/openapi.json", r.Method, r.Path)
		}
	}
	for path, item := range spec.doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("static/openapi.json describes %s %s, which routes.go does not serve", method, path)
			}
		}
	}
	if len(served) == 0 {
		t.Fatal("no API routes")
	}
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestOpenAPIValidatorRefusesDrift: the check every test server makes
// refuses answers the document does not describe, so that passing it
// means something.
func TestOpenAPIValidatorRefusesDrift(t *testing.T) {
	spec := mustOpenAPI(t)
	js := http.Header{"Content-Type": {"application/json"}}
	with := func(h http.Header, k, v string) http.Header { h = h.Clone(); h.Set(k, v); return h }
	req := func(method, target string) *http.Request { return httptest.NewRequest(method, target, nil) }
	good := `{"code":200,"payload":[],"next":null}`
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"control: an empty page", req("GET", "/v1/posts/my"), 200, js, good, true},
		{"control: a hashtag's page", req("GET", "/v1/posts/hashtag/%EB%85%B8%EB%93%9C"), 200, js, good, true},
		{"control: an unknown URL", req("GET", "/v1/nope"), 404, js, `{"code":404,"message":"Not found","error":"not_found"}`, true},
		{"control: 429 with Retry-After", req("GET", "/v1/test"), 429, with(js, "Retry-After", "3"), `{"code":429,"message":"x","error":"rate_limited"}`, true},
		{"a field the document does not have", req("GET", "/v1/posts/my"), 200, js, `{"code":200,"payload":[],"next":null,"extra":1}`, false},
		{"a post without hashtags", req("GET", "/v1/posts/my"), 200, js, `{"code":200,"payload":[{"id":1,"content":"x","img":null,"createdAt":"2026-01-02T03:04:05.000Z","updatedAt":"2026-01-02T03:04:05.000Z","UserId":1}],"next":null}`, false},
		{"a time without milliseconds", req("GET", "/v1/posts/my"), 200, js, `{"code":200,"payload":[{"id":1,"content":"x","img":null,"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05.000Z","UserId":1,"hashtags":[]}],"next":null}`, false},
		{"an undocumented status", req("GET", "/v1/posts/my"), 418, js, `{"code":418,"message":"x","error":"teapot"}`, false},
		{"an error id the document does not list", req("GET", "/v1/test"), 401, js, `{"code":401,"message":"x","error":"no_such_id"}`, false},
		{"an error id of another status", req("GET", "/v1/test"), 401, js, `{"code":401,"message":"x","error":"rate_limited"}`, false},
		{"an error without its id", req("POST", "/v1/token"), 400, js, `{"code":400,"message":"x"}`, false},
		{"429 without Retry-After", req("GET", "/v1/test"), 429, js, `{"code":429,"message":"x","error":"rate_limited"}`, false},
		{"a 404 from a route that cannot answer it", req("GET", "/v1/posts/my"), 404, js, `{"code":404,"message":"x","error":"not_found"}`, false},
		{"HTML", req("GET", "/v1/test"), 200, http.Header{"Content-Type": {"text/html"}}, `<p>hi</p>`, false},
		{"an unknown URL answering 200", req("GET", "/v1/nope"), 200, js, `{"code":200}`, false},
	} {
		err := spec.validate(tc.req, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: validation error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
