package models

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"tisheng/ingest"
)

//go:embed profiles/*.json
var profileFS embed.FS

// Hours is an exact number of hours in hundredths, read from JSON without floating point.
type Hours int64

// UnmarshalJSON reads a JSON number such as 25 or 12.5.
func (h *Hours) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	fp = strings.TrimRight(fp, "0")
	if ip == "" || len(fp) > 2 || strings.ContainsAny(s, "eE\"") {
		return fmt.Errorf("%s is not a number of hours with at most two decimals", string(b))
	}
	n, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || n > 1_000_000 {
		return fmt.Errorf("%s is not a number of hours", string(b))
	}
	f := 0
	if fp != "" {
		f, _ = strconv.Atoi((fp + "0")[:2])
	}
	v := n*100 + int64(f)
	if neg {
		v = -v
	}
	*h = Hours(v)
	return nil
}

// MarshalJSON writes the hours back as a plain number.
func (h Hours) MarshalJSON() ([]byte, error) { return []byte(h.String()), nil }

func (h Hours) String() string {
	s := strconv.FormatInt(int64(h)/100, 10)
	if f := int64(h) % 100; f != 0 {
		if f < 0 {
			f = -f
		}
		s += strings.TrimRight(fmt.Sprintf(".%02d", f), "0")
	}
	if h < 0 && int64(h) > -100 {
		s = "-" + s
	}
	return s
}

// SQL is the value as a DECIMAL literal.
func (h Hours) SQL() string { return h.String() }

// Profile is a region's rules (docs/domain.md "The rules, by region"). Every rule of the models
// is one of these fields; the models read them from the profile tables.
type Profile struct {
	Name             string           `json:"name"`
	Label            string           `json:"label"`
	Catalogue        string           `json:"catalogue"`
	TotalHoursMin    Hours            `json:"total_hours_min"`
	OnlineHoursMin   Hours            `json:"online_hours_min"`
	PracticeHoursMin Hours            `json:"practice_hours_min"`
	CategoryHoursMin map[string]Hours `json:"category_hours_min"`
	PracticeHoursCap *Hours           `json:"practice_hours_cap"`
	ActivityHoursCap map[string]Hours `json:"activity_hours_cap"`
	AbilitiesMin     int              `json:"abilities_min"`
	DimensionsMin    int              `json:"dimensions_min"`
	RequirePlan      bool             `json:"require_plan_and_summaries"`
	GatePercent      int              `json:"gate_percent"`
	GateCounts       string           `json:"gate_counts"` // assessment or complete
}

// BuiltinProfiles names the profiles shipped in the binary.
func BuiltinProfiles() []string {
	entries, _ := profileFS.ReadDir("profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}

// LoadProfile reads a built-in profile by name, or a user's JSON file by path.
func LoadProfile(nameOrPath string) (Profile, error) {
	for _, n := range BuiltinProfiles() {
		if n == nameOrPath {
			b, err := profileFS.ReadFile(path.Join("profiles", n+".json"))
			if err != nil {
				return Profile{}, err
			}
			return ParseProfile(b, n+".json")
		}
	}
	if !strings.HasSuffix(nameOrPath, ".json") {
		return Profile{}, fmt.Errorf("profile: unknown profile %q (built in: %s; or a .json file)", nameOrPath, strings.Join(BuiltinProfiles(), ", "))
	}
	b, err := os.ReadFile(nameOrPath)
	if err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	return ParseProfile(b, nameOrPath)
}

// ParseProfile decodes and checks a profile; every field must be given, and an unknown
// field or an impossible value is an error that names it.
func ParseProfile(b []byte, source string) (Profile, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", source, err)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", source, err)
	}
	for _, f := range profileFields() {
		if _, ok := raw[f]; !ok {
			return Profile{}, fmt.Errorf("profile %s: field %q is missing", source, f)
		}
	}
	if err := p.validate(); err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", source, err)
	}
	return p, nil
}

func profileFields() []string {
	return []string{"name", "label", "catalogue", "total_hours_min", "online_hours_min", "practice_hours_min",
		"category_hours_min", "practice_hours_cap", "activity_hours_cap", "abilities_min", "dimensions_min",
		"require_plan_and_summaries", "gate_percent", "gate_counts"}
}

func (p Profile) validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return errors.New(`field "name" is empty`)
	}
	if strings.TrimSpace(p.Catalogue) == "" {
		return errors.New(`field "catalogue" is empty`)
	}
	for f, h := range map[string]Hours{"total_hours_min": p.TotalHoursMin, "online_hours_min": p.OnlineHoursMin, "practice_hours_min": p.PracticeHoursMin} {
		if h < 0 {
			return fmt.Errorf("field %q is negative (%s)", f, h)
		}
	}
	cats := map[string]bool{}
	for _, c := range ingest.HourCategories() {
		cats[c] = true
	}
	for field, m := range map[string]map[string]Hours{"category_hours_min": p.CategoryHoursMin, "activity_hours_cap": p.ActivityHoursCap} {
		for c, h := range m {
			if !cats[c] {
				return fmt.Errorf("field %q: unknown hour category %q (%s)", field, c, strings.Join(ingest.HourCategories(), ", "))
			}
			if h < 0 || (field == "activity_hours_cap" && h == 0) {
				return fmt.Errorf("field %q: %s has an impossible value %s", field, c, h)
			}
		}
	}
	if p.CategoryHoursMin["online"] != 0 {
		return errors.New(`field "category_hours_min": use "online_hours_min" for online hours`)
	}
	if p.PracticeHoursCap != nil {
		if *p.PracticeHoursCap <= 0 {
			return fmt.Errorf(`field "practice_hours_cap" is %s; it must be positive or null`, *p.PracticeHoursCap)
		}
		if *p.PracticeHoursCap < p.PracticeHoursMin {
			return fmt.Errorf(`field "practice_hours_cap" (%s) is below "practice_hours_min" (%s): no teacher could meet it`, *p.PracticeHoursCap, p.PracticeHoursMin)
		}
	}
	if p.AbilitiesMin < 0 || p.AbilitiesMin > 100 {
		return fmt.Errorf(`field "abilities_min" has an impossible value %d`, p.AbilitiesMin)
	}
	if p.DimensionsMin < 0 || p.DimensionsMin > p.AbilitiesMin && p.AbilitiesMin > 0 {
		return fmt.Errorf(`field "dimensions_min" (%d) must be between 0 and "abilities_min" (%d)`, p.DimensionsMin, p.AbilitiesMin)
	}
	if p.GatePercent <= 0 || p.GatePercent > 100 {
		return fmt.Errorf(`field "gate_percent" is %d; a share must be over 0%% and at most 100%%`, p.GatePercent)
	}
	if p.GateCounts != "assessment" && p.GateCounts != "complete" {
		return fmt.Errorf(`field "gate_counts" is %q; it must be "assessment" or "complete"`, p.GateCounts)
	}
	return nil
}
