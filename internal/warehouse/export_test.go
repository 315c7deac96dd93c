package warehouse

// SetBackupHook calls f at each step of every backup until the returned func is called.
func SetBackupHook(f func(step string)) (reset func()) {
	backupHook.Store(&f)
	return func() { backupHook.Store(nil) }
}
