package domaincache

// HasHost reports whether an active domain registered host (CORS preflights
// and refusals to registered origins ask it).
func (c *Cache) HasHost(host string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.hosts[host] > 0
}
