package contacts

// SetExportBatch lets tests page exports in small batches.
func SetExportBatch(n int) (restore func()) {
	old := exportBatch
	exportBatch = n
	return func() { exportBatch = old }
}

// SetRescoreBatch lets tests rescore in small batches.
func SetRescoreBatch(n int) (restore func()) {
	old := rescoreBatch
	rescoreBatch = n
	return func() { rescoreBatch = old }
}
