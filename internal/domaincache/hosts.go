package domaincache

// HasHost reports whether an active domain registered host (CORS preflights
// and refusals to registered origins ask it).
func (c *Cache) HasHost(host string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i, ok := c.hosts.lookup(host)
	return ok && c.live[i] > 0
}
