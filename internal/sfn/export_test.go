package sfn

// DisableJournalCache makes every load read the whole journal, as runs
// did before journalcache.go (the benchmark's baseline).
func DisableJournalCache(s *Service) { s.jcache = nil }

// DisableDefCache makes every execution parse its definition.
func DisableDefCache(s *Service) { s.defs = nil }
