package deliver

import "time"

// Crash points for the tests of exactly-once (package deliver_test, which needs the server).

// StopAfterRecord makes the next passes stop once the due deliveries are recorded.
func (s *Service) StopAfterRecord(stop func() bool) { s.hooks.afterRecord = stop }

// StopAtCommit stops a delivery after "sending" is recorded, before the message's last byte.
func (s *Service) StopAtCommit(stop func(d Delivery, step int) bool) { s.hooks.atCommit = stop }

// StopAfterAck stops a delivery after the remote acknowledged, before that is recorded.
func (s *Service) StopAfterAck(stop func(d Delivery, step int) bool) { s.hooks.afterAck = stop }

// ErrCrashed is what a stopped pass returns.
var ErrCrashed = errCrashed

// LastTick is a schedule's latest time in (after, now].
func LastTick(spec string, after, now time.Time) (time.Time, error) {
	s, err := parseSchedule(spec)
	if err != nil {
		return time.Time{}, err
	}
	return s.lastTick(after, now), nil
}
