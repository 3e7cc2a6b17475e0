package record

// SetReadFault gives the external tests (package record_test) the
// store's read fault (setReadFault), which is not part of the API.
func SetReadFault(s *Store, fault func(path string, off int64) error) { s.setReadFault(fault) }
