package audit

// eachCandidate calls fn with every line of the log that may hold a call q
// selects or its outcome, in order, until fn returns false. Files older
// than q.Since's day are skipped: a record goes into a file of its own day
// or a later one, never an earlier one.
func eachCandidate(dir string, q Query, fn func(line []byte) bool) error {
	files, err := logFiles(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if !q.Since.IsZero() && f.day < dayOf(q.Since) {
			continue
		}
		err := eachLine(dir, f, func(_ position, line []byte) error {
			if !fn(line) {
				return errStop
			}
			return nil
		})
		if err == errStop {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
