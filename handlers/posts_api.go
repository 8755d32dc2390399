package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// The posts API (behind withToken, as /v1/test): GET /v1/posts/my, the
// token's user's posts, and GET /v1/posts/hashtag/:title, everyone's posts
// with that hashtag. Both answer {"code":200,"payload":[...],"next":...}
// newest first, in keyset pages: ?limit (1 to 100, default 20) and an
// opaque ?cursor from the page before (its "next", also in a Link header).

const (
	defaultPostsLimit = 20
	maxPostsLimit     = 100
)

// postJSON is a post as the seed's API answered it (Sequelize's field
// names: UserId, createdAt), plus its hashtags; img is always null (images
// are not kept).
type postJSON struct {
	ID        uint64   `json:"id"`
	Content   string   `json:"content"`
	Img       *string  `json:"img"`
	CreatedAt jsTime   `json:"createdAt"`
	UpdatedAt jsTime   `json:"updatedAt"`
	UserID    uint64   `json:"UserId"`
	Hashtags  []string `json:"hashtags"`
}

// postsResponse is the body of both endpoints. Next is the cursor of the
// page after this one, null on the last.
type postsResponse struct {
	Code    int        `json:"code"`
	Payload []postJSON `json:"payload"`
	Next    *string    `json:"next"`
}

// jsTime is a time as JavaScript's Date#toJSON writes it (the seed's
// format): UTC, milliseconds always, "2026-01-02T03:04:05.000Z".
type jsTime time.Time

func (t jsTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// myPosts (GET /v1/posts/my): the token's user's posts.
func (a *App) myPosts(c echo.Context) error {
	limit, err := postsLimit(c)
	if err != nil {
		return err
	}
	user := checkedToken(c).Claims.UserID
	scope := cursorScope('u', user)
	before, err := a.readCursor(c, scope)
	if err != nil {
		return err
	}
	page, err := a.posts.ForUser(c.Request().Context(), user, before, limit)
	if err != nil {
		return err
	}
	return a.answerPosts(c, page, limit, scope, "/v1/posts/my")
}

// hashtagPosts (GET /v1/posts/hashtag/:title): the posts with the
// hashtag, the title URL-decoded and folded as stored (models.FoldHashtag),
// a leading '#' allowed; 404 (the seed's 검색 결과가 없습니다) for a hashtag no
// post ever had.
func (a *App) hashtagPosts(c echo.Context) error {
	limit, err := postsLimit(c)
	if err != nil {
		return err
	}
	notFound := apiError(http.StatusNotFound, "api.hashtag.none")
	title := c.Param("title")
	if c.Request().URL.RawPath != "" { // Echo then gives the parameter as sent, still escaped
		if title, err = url.PathUnescape(title); err != nil {
			return notFound
		}
	}
	if len(title) > 1 && title[0] == '#' {
		title = title[1:]
	}
	tag, ok := models.FoldHashtag(title)
	if !ok {
		return notFound
	}
	id, err := a.posts.HashtagID(c.Request().Context(), tag)
	if errors.Is(err, models.ErrNoRecord) {
		return notFound
	}
	if err != nil {
		return err
	}
	scope := cursorScope('h', id)
	before, err := a.readCursor(c, scope)
	if err != nil {
		return err
	}
	page, err := a.posts.ForHashtag(c.Request().Context(), id, before, limit)
	if err != nil {
		return err
	}
	return a.answerPosts(c, page, limit, scope, "/v1/posts/hashtag/"+url.PathEscape(tag))
}

// answerPosts writes a page, with the next page's cursor in the body and
// in a Link header (RFC 8288) relative to this server.
func (a *App) answerPosts(c echo.Context, page *models.PostPage, limit int, scope []byte, path string) error {
	body := postsResponse{Code: http.StatusOK, Payload: make([]postJSON, len(page.Posts))}
	for i, p := range page.Posts {
		body.Payload[i] = postJSON{
			ID: p.ID, Content: p.Content, CreatedAt: jsTime(p.CreatedAt), UpdatedAt: jsTime(p.UpdatedAt),
			UserID: p.UserID, Hashtags: p.Hashtags,
		}
	}
	if page.More {
		next := a.cursor(scope, page.Posts[len(page.Posts)-1].ID)
		body.Next = &next
		q := url.Values{"cursor": {next}}
		if limit != defaultPostsLimit {
			q.Set("limit", strconv.Itoa(limit))
		}
		c.Response().Header().Add("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
	}
	return c.JSON(http.StatusOK, body)
}

// postsLimit reads ?limit: 1 to maxPostsLimit in decimal digits, 400
// otherwise; defaultPostsLimit when absent.
func postsLimit(c echo.Context) (int, error) {
	s, ok := c.QueryParams()["limit"]
	if !ok {
		return defaultPostsLimit, nil
	}
	n, err := strconv.Atoi(s[0])
	if err != nil || len(s) > 1 || n < 1 || n > maxPostsLimit || s[0][0] < '0' || s[0][0] > '9' {
		return 0, apiError(http.StatusBadRequest, "api.posts.limit")
	}
	return n, nil
}

// Cursors are the id of a page's last post and an HMAC-SHA256 of it with
// the list it belongs to (the user or hashtag), under a key derived from
// JWT_SECRET: a cursor cannot be forged or carried to another list (that
// is a 400, never another list's page). base64url, 32 characters.
const cursorMACSize = 16

// cursorScope names a list: 'u' and a user id, or 'h' and a hashtag id.
func cursorScope(kind byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kind}, id)
}

func (a *App) cursorMAC(scope []byte, id []byte) []byte {
	m := hmac.New(sha256.New, a.cursorKey)
	m.Write(scope)
	m.Write(id)
	return m.Sum(nil)[:cursorMACSize]
}

// cursor is the cursor of the page after the post id in the list scope.
func (a *App) cursor(scope []byte, id uint64) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+cursorMACSize), id)
	return base64.RawURLEncoding.EncodeToString(append(b, a.cursorMAC(scope, b)...))
}

// readCursor reads ?cursor for the list scope: the id the page starts
// below, 0 (the first page) when there is none; 400 for a cursor this
// server did not make for this list.
func (a *App) readCursor(c echo.Context, scope []byte) (uint64, error) {
	s, ok := c.QueryParams()["cursor"]
	if !ok {
		return 0, nil
	}
	bad := apiError(http.StatusBadRequest, "api.posts.cursor")
	b, err := base64.RawURLEncoding.DecodeString(s[0])
	if err != nil || len(s) > 1 || len(b) != 8+cursorMACSize || !hmac.Equal(b[8:], a.cursorMAC(scope, b[:8])) {
		return 0, bad
	}
	id := binary.BigEndian.Uint64(b[:8])
	if id == 0 || id > models.MaxID {
		return 0, bad
	}
	return id, nil
}
