package ingest

import (
	"regexp"
	"strings"
)

// What a rejected row keeps is seen by every analyst (the rejects table, the 数据质量 page,
// the upload result), so whatever looks like an ID or a phone number is masked there, in
// any column and in the reason: a roster's 身份证号 typed into 备注, a 联系电话 column, an
// ID half-masked by the platform (4404021985****1234 still shows the birth date).

var (
	// A run of digits and stars, with an optional final X: an ID when 15 or more long.
	reDigitRun = regexp.MustCompile(`[0-9*]+[Xx]?`)
	// A mobile number written with separators (138-1234-5678, +86 138 1234 5678).
	reMobileSep = regexp.MustCompile(`(?:\+?86[- ]?)?1[3-9][0-9][- ][0-9]{4}[- ][0-9]{4}`)
	// A landline with its area code (0755-12345678, 010 1234567).
	reLandline = regexp.MustCompile(`0[1-9][0-9]{1,2}[- ][0-9]{7,8}`)
)

// foldDigits turns full-width digits, stars and X into ASCII, one rune for one rune.
func foldDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return r - '０' + '0'
		case r == '＊':
			return '*'
		case r == 'Ｘ' || r == 'ｘ':
			return 'X'
		}
		return r
	}, s)
}

// MaskSensitive masks ID-like and phone-like numbers in s, for anything outside ingest that
// keeps or logs text a user typed (the audit trail's query texts, error logs).
func MaskSensitive(s string) string { return maskSensitive(s) }

// maskSensitive masks ID-like and phone-like numbers in s; text without them is returned
// as it was.
func maskSensitive(s string) string {
	if !strings.ContainsAny(s, "0123456789０１２３４５６７８９") {
		return s
	}
	f := foldDigits(s)
	changed := f != s
	f = reDigitRun.ReplaceAllStringFunc(f, func(run string) string {
		digits := strings.Count(run, "") - 1 - strings.Count(run, "*")
		switch {
		case len(run) >= 15 && digits > 0:
			// An ID (15 or 18 characters, masked or not) or anything as long: keep the
			// first 6 and the last 4, as the stored mask does.
			changed = true
			return run[:6] + strings.Repeat("*", len(run)-10) + run[len(run)-4:]
		case isMobile(run):
			changed = true
			return run[:len(run)-8] + "****" + run[len(run)-4:]
		}
		return run
	})
	f = reMobileSep.ReplaceAllStringFunc(f, func(m string) string {
		changed = true
		return maskTail(m, 4, 4)
	})
	f = reLandline.ReplaceAllStringFunc(f, func(m string) string {
		changed = true
		return maskTail(m, 4, 2)
	})
	if !changed {
		return s
	}
	return f
}

// isMobile is an 11-digit mainland mobile number, with or without 86 before it.
func isMobile(run string) bool {
	run = strings.TrimPrefix(run, "86")
	if len(run) != 11 || run[0] != '1' || run[1] < '3' || !allDigits(run) {
		return false
	}
	return true
}

// maskTail stars n digits of m before its last keep digits.
func maskTail(m string, n, keep int) string {
	b := []byte(m)
	seen, starred := 0, 0
	for i := len(b) - 1; i >= 0 && starred < n; i-- {
		if b[i] < '0' || b[i] > '9' {
			continue
		}
		seen++
		if seen > keep {
			b[i] = '*'
			starred++
		}
	}
	return string(b)
}
