package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Posts and their hashtags: what the API's tokens open. Every list is a
// keyset page read from an index in its order, newest (highest id) first,
// so a page deep in a list costs what the first does.

// MaxPostLen is the longest post, in characters (code points).
const MaxPostLen = 140

// Post is a short text a user wrote.
type Post struct {
	ID uint64 `gorm:"primaryKey"`
	// (user_id, id): a user's posts, newest first, from the index alone.
	UserID    uint64 `gorm:"not null;index:idx_posts_user_id,priority:1"`
	User      User   `gorm:"constraint:OnDelete:CASCADE"`
	Content   string `gorm:"size:140;not null"` // MaxPostLen characters (MySQL counts characters)
	CreatedAt time.Time
	UpdatedAt time.Time
	// Hashtags are filled by the queries below (not a column).
	Hashtags []string `gorm:"-"`
}

// Hashtag is a tag as stored: folded, without its '#' (FoldHashtag).
// Its title compares exactly on MySQL (HashtagCollation).
type Hashtag struct {
	ID        uint64 `gorm:"primaryKey"`
	Title     string `gorm:"size:15;not null;uniqueIndex"`
	CreatedAt time.Time
}

// PostHashtag links a post and a hashtag. Its primary key (post_id,
// hashtag_id) reads a page's tags; (hashtag_id, post_id) reads a tag's
// posts, newest first.
type PostHashtag struct {
	PostID    uint64  `gorm:"primaryKey;autoIncrement:false;index:idx_post_hashtags_tag_post,priority:2"`
	HashtagID uint64  `gorm:"primaryKey;autoIncrement:false;index:idx_post_hashtags_tag_post,priority:1"`
	Post      Post    `gorm:"constraint:OnDelete:CASCADE"`
	Hashtag   Hashtag `gorm:"constraint:OnDelete:CASCADE"`
}

// PostModel queries posts. A user's posts are only ever changed by their
// owner: the owner is part of every such query.
type PostModel struct{ conn }

// NewPostModel returns a PostModel with the given per-query timeout.
func NewPostModel(db *gorm.DB, timeout time.Duration) *PostModel {
	return &PostModel{conn{db, timeout}}
}

// Insert stores a post of userID with the hashtags of its text
// (ParseHashtags), in one transaction. content must be cleaned already.
func (m *PostModel) Insert(ctx context.Context, userID uint64, content string) (*Post, error) {
	p := &Post{UserID: userID, Content: content, Hashtags: ParseHashtags(content)}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("User").Create(p).Error; err != nil {
			return err
		}
		if len(p.Hashtags) == 0 {
			return nil
		}
		tags := make([]Hashtag, len(p.Hashtags))
		for i, t := range p.Hashtags {
			tags[i] = Hashtag{Title: t}
		}
		// Another post may create the same tag at the same moment: the
		// unique title decides, and both read the ids back.
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&tags).Error; err != nil {
			return err
		}
		var ids []uint64
		if err := tx.Model(&Hashtag{}).Where("title IN ?", p.Hashtags).Pluck("id", &ids).Error; err != nil {
			return err
		}
		links := make([]PostHashtag, len(ids))
		for i, id := range ids {
			links[i] = PostHashtag{PostID: p.ID, HashtagID: id}
		}
		return tx.Omit(clause.Associations).Create(&links).Error
	})
	if err != nil {
		return nil, translate(err)
	}
	return p, nil
}

// Delete deletes the user's post (its links go with it), and the hashtags
// no other post uses (deleteUnusedTags); ErrNoRecord for anyone else's.
func (m *PostModel) Delete(ctx context.Context, id, userID uint64) error {
	if noSuchID(id) || noSuchID(userID) {
		return ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Transaction(func(tx *gorm.DB) error {
		// Read before the post goes: MySQL's foreign key takes its links with it.
		var tags []uint64
		if err := tx.Model(&PostHashtag{}).Where("post_id = ?", id).Pluck("hashtag_id", &tags).Error; err != nil {
			return err
		}
		res := tx.Where("id = ? AND user_id = ?", id, userID).Delete(&Post{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNoRecord
		}
		// The foreign key cascades on MySQL; SQLite's only with
		// foreign_keys on, which a DSN given by hand may leave off.
		if err := tx.Where("post_id = ?", id).Delete(&PostHashtag{}).Error; err != nil {
			return err
		}
		return deleteUnusedTags(tx, tags)
	})
	if errors.Is(err, ErrNoRecord) {
		return err
	}
	return translate(err)
}

// deleteUnusedTags deletes, of the hashtags ids, those no post uses any
// more (read by id, and by the (hashtag_id, post_id) index), so that
// posting and deleting cannot grow the table without end. A post that
// takes one of them at the same moment waits for the deletion on MySQL
// (its INSERT IGNORE of the tag locks the row) and then makes it anew;
// SQLite runs one writer at a time.
func deleteUnusedTags(tx *gorm.DB, ids []uint64) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := tx.Where("id IN ? AND NOT EXISTS (SELECT 1 FROM post_hashtags WHERE post_hashtags.hashtag_id = hashtags.id)", ids[:n]).
			Delete(&Hashtag{}).Error; err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// PostPage is a page of posts, newest first; More says whether older
// posts follow its last one.
type PostPage struct {
	Posts []Post
	More  bool
}

// ForUser returns up to limit of the user's posts with an id below before
// (0: from the newest), newest first, with their hashtags: a range of the
// (user_id, id) index.
func (m *PostModel) ForUser(ctx context.Context, userID, before uint64, limit int) (*PostPage, error) {
	if noSuchID(userID) {
		return &PostPage{}, nil
	}
	db, cancel := m.with(ctx)
	defer cancel()
	q := db.Where("user_id = ?", userID)
	if before != 0 {
		q = q.Where("id < ?", min(before, MaxID))
	}
	var ps []Post
	if err := q.Order("id DESC").Limit(limit + 1).Find(&ps).Error; err != nil {
		return nil, translate(err)
	}
	return pageOf(db, ps, limit)
}

// HashtagID returns the id of the hashtag stored as tag (already folded);
// ErrNoRecord when no post ever had it.
func (m *PostModel) HashtagID(ctx context.Context, tag string) (uint64, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var h Hashtag
	if err := db.Select("id").Where("title = ?", tag).Take(&h).Error; err != nil {
		return 0, translate(err)
	}
	return h.ID, nil
}

// ForHashtag returns up to limit of the posts carrying the hashtag, any
// user's, with an id below before (0: from the newest), newest first, with
// their hashtags: a range of the (hashtag_id, post_id) index, each post
// then read by its primary key.
func (m *PostModel) ForHashtag(ctx context.Context, hashtagID, before uint64, limit int) (*PostPage, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	q := db.Table("post_hashtags").Select("posts.*").
		Joins("JOIN posts ON posts.id = post_hashtags.post_id").
		Where("post_hashtags.hashtag_id = ?", hashtagID)
	if before != 0 {
		q = q.Where("post_hashtags.post_id < ?", min(before, MaxID))
	}
	var ps []Post
	if err := q.Order("post_hashtags.post_id DESC").Limit(limit + 1).Find(&ps).Error; err != nil {
		return nil, translate(err)
	}
	return pageOf(db, ps, limit)
}

// pageOf cuts ps (read with one row more than limit) to a page and fills
// in the page's hashtags with one query by the (post_id, hashtag_id) key.
func pageOf(db *gorm.DB, ps []Post, limit int) (*PostPage, error) {
	page := &PostPage{Posts: ps, More: len(ps) > limit}
	if page.More {
		page.Posts = ps[:limit]
	}
	if len(page.Posts) == 0 {
		return page, nil
	}
	ids := make([]uint64, len(page.Posts))
	at := make(map[uint64]int, len(page.Posts))
	for i, p := range page.Posts {
		ids[i], at[p.ID] = p.ID, i
		page.Posts[i].Hashtags = []string{}
	}
	var rows []struct {
		PostID uint64
		Title  string
	}
	err := db.Table("post_hashtags").Select("post_hashtags.post_id, hashtags.title").
		Joins("JOIN hashtags ON hashtags.id = post_hashtags.hashtag_id").
		Where("post_hashtags.post_id IN ?", ids).Order("post_hashtags.post_id, hashtags.title").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		p := &page.Posts[at[r.PostID]]
		p.Hashtags = append(p.Hashtags, r.Title)
	}
	return page, nil
}
