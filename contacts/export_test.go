package contacts

// SetExportBatch lets tests page exports in small batches.
func SetExportBatch(n int) (restore func()) {
	old := exportBatch
	exportBatch = n
	return func() { exportBatch = old }
}
