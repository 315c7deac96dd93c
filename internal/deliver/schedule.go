package deliver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	// The schedules are Asia/Shanghai's whatever the machine's zone database holds: the
	// zone is built into the binary.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// NewMonth is the schedule "after the refresh that brings a new month".
const NewMonth = "new-month"

// DefaultSchedule sends on the 5th of every month at 08:00, Asia/Shanghai.
const DefaultSchedule = "0 8 5 * *"

// zone is where schedules are read; loaded once (time/tzdata makes it always present).
var zone = func() *time.Location {
	z, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return z
}()

// Zone is Asia/Shanghai, in which schedules and --at are read.
func Zone() *time.Location { return zone }

// minInterval is the shortest time allowed between two deliveries of one subscription: each
// builds a report under its recipient's scope, and a group robot takes 20 messages a minute.
const minInterval = time.Hour

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// schedule is a parsed subscription schedule: cron times, or after a new month.
type schedule struct {
	spec     string
	newMonth bool
	cron     cron.Schedule
}

// parseSchedule checks a schedule: new-month, or a five-field cron expression (minute hour
// day-of-month month day-of-week) read in Asia/Shanghai, at most once an hour.
func parseSchedule(spec string) (schedule, error) {
	spec = strings.Join(strings.Fields(spec), " ")
	if spec == NewMonth {
		return schedule{spec: spec, newMonth: true}, nil
	}
	if spec == "" {
		return schedule{}, errors.New("发送时间为空：应为五段 cron 表达式（如 0 8 5 * * 表示每月5日8:00）或 new-month")
	}
	if len(spec) > 100 || strings.Contains(spec, "TZ=") || strings.HasPrefix(spec, "@") {
		return schedule{}, fmt.Errorf("发送时间「%s」无效：应为五段 cron 表达式（分 时 日 月 周，北京时间），或 new-month", spec)
	}
	if n := len(strings.Fields(spec)); n != 5 {
		return schedule{}, fmt.Errorf("发送时间「%s」应有五段（分 时 日 月 周），这里有 %d 段", spec, n)
	}
	c, err := cronParser.Parse(spec)
	if err != nil {
		return schedule{}, fmt.Errorf("发送时间「%s」无效：%v", spec, err)
	}
	// every gap between the next few dozen times must be at least minInterval
	t := c.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, zone))
	if t.IsZero() {
		return schedule{}, fmt.Errorf("发送时间「%s」永远不会到来", spec)
	}
	for i := 0; i < 60; i++ {
		n := c.Next(t)
		if n.IsZero() {
			break
		}
		if n.Sub(t) < minInterval {
			return schedule{}, fmt.Errorf("发送时间「%s」过于频繁：两次发送至少相隔 1 小时", spec)
		}
		t = n
	}
	return schedule{spec: spec, cron: c}, nil
}

// lastTick is the latest scheduled time in (after, now]; zero when there is none. Times are
// whole minutes in Asia/Shanghai.
func (s schedule) lastTick(after, now time.Time) time.Time {
	if s.newMonth {
		return time.Time{}
	}
	// A long stop is not replayed tick by tick: at most a year back.
	if floor := now.AddDate(-1, 0, 0); after.Before(floor) {
		after = floor
	}
	var last time.Time
	for t := s.cron.Next(after.In(zone)); !t.IsZero() && !t.After(now); t = s.cron.Next(t) {
		last = t
	}
	return last
}

// at reports whether the schedule has a time exactly at t (to the minute).
func (s schedule) at(t time.Time) bool {
	if s.newMonth {
		return false
	}
	t = t.In(zone).Truncate(time.Minute)
	return s.cron.Next(t.Add(-time.Second)).Equal(t)
}

// periodOf names a scheduled time as deliveries record it: 2025-07-05 08:00 (Beijing time).
func periodOf(t time.Time) string { return t.In(zone).Format(periodLayout) }

const periodLayout = "2006-01-02 15:04"

// parsePeriod reads a scheduled period back; a month period (new-month) is not one.
func parsePeriod(p string) (time.Time, bool) {
	t, err := time.ParseInLocation(periodLayout, p, zone)
	return t, err == nil
}

// describe says a schedule in words for the pages: 每月5日 08:00.
func describe(spec string) string {
	if spec == NewMonth {
		return "新月份数据导入后"
	}
	f := strings.Fields(spec)
	if len(f) == 5 && f[2] != "*" && f[3] == "*" && f[4] == "*" && isNum(f[0]) && isNum(f[1]) && isNum(f[2]) {
		h, _ := strconv.Atoi(f[1])
		m, _ := strconv.Atoi(f[0])
		return fmt.Sprintf("每月%s日 %02d:%02d", f[2], h, m)
	}
	return spec + "（北京时间）"
}

func isNum(s string) bool {
	if s == "" || len(s) > 2 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
