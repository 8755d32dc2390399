package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// Posts in the portal: a signed-in user writes short posts (GET /posts,
// POST /post), sees their own, newest first, a page at a time, and deletes
// them (POST /post/:id/delete). Successful POSTs answer 303 to /posts
// (Post/Redirect/Get), so a reload never posts twice.

const postsPageSize = 20

// postsPerAccount: posts an account may publish a minute (429 beyond):
// each one writes a row, and its hashtags.
var postsPerAccount = ratelimit.Policy{Name: "posts-account", Quota: 30, Window: time.Minute}

type postForm struct {
	Content string
}

// validate cleans the text (cleanLines: 1 to models.MaxPostLen characters,
// counted in code points) into f.Content.
func (f *postForm) validate() map[string]string {
	errs := map[string]string{}
	content, k := contentField.clean(f.Content)
	if k != "" {
		errs["content"] = k
	} else {
		f.Content = content
	}
	return errs
}

type postsData struct {
	Posts []models.Post
	// OlderURL is the next page ("" for none); Newest says the page is
	// not the first.
	OlderURL string
	Newest   bool
}

// postsPage (GET /posts) shows the form and a page of the user's posts:
// the newest, or those older than ?before=ID.
func (a *App) postsPage(c echo.Context) error {
	before := uint64(0)
	if s := c.QueryParam("before"); s != "" {
		id, ok := parseID(s)
		if !ok {
			return echo.NewHTTPError(http.StatusBadRequest, "posts.err.query")
		}
		before = id
	}
	return a.renderPosts(c, http.StatusOK, a.page(c), before)
}

func (a *App) renderPosts(c echo.Context, status int, p *Page, before uint64) error {
	page, err := a.posts.ForUser(c.Request().Context(), p.User.ID, before, postsPageSize)
	if err != nil {
		return err
	}
	d := &postsData{Posts: page.Posts, Newest: before != 0}
	if page.More {
		d.OlderURL = "/posts?before=" + strconv.FormatUint(page.Posts[len(page.Posts)-1].ID, 10)
	}
	if p.Form == nil {
		p.Form = &postForm{}
	}
	p.Data = d
	return a.render(c, status, "posts", p)
}

// createPost (POST /post) publishes a post; 422 with the form again when
// its text is refused, 429 past postsPerAccount.
func (a *App) createPost(c echo.Context) error {
	f := &postForm{Content: c.FormValue("content")}
	ws := webSession(c)
	status, errs := http.StatusUnprocessableEntity, f.validate()
	if !a.allowUser(c, ws.user.ID, postsPerAccount) { // counted whether or not the form passes
		status, errs = http.StatusTooManyRequests, map[string]string{"content": "err.429"}
	}
	if len(errs) > 0 { // the text typed stays in the form
		p := a.page(c)
		p.Form, p.Errors = f, errs
		return a.renderPosts(c, status, p, 0)
	}
	if _, err := a.posts.Insert(c.Request().Context(), ws.user.ID, f.Content); err != nil {
		return err
	}
	ws.flash("flash.post.created")
	return a.redirect(c, "/posts")
}

// deletePost (POST /post/:id/delete) deletes one of the user's posts; 404
// for anyone else's.
func (a *App) deletePost(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ws := webSession(c)
	err = a.posts.Delete(c.Request().Context(), id, ws.user.ID)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	ws.flash("flash.post.deleted")
	return a.redirect(c, "/posts")
}
