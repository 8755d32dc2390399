package domaincache

// HasHost reports whether an active domain registered host. It scans the
// view (microseconds for ten thousand domains); it serves CORS preflights,
// which browsers cache, so it is off the hot path.
func (c *Cache) HasHost(host string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.byID {
		if e.Active && e.Host == host {
			return true
		}
	}
	return false
}
