package contacts

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
)

// Input limits.
const (
	MaxEmailLen      = 254
	MaxNameLen       = 200
	MaxPhoneLen      = 50
	MaxOwnerLen      = 200
	MaxTagLen        = 100
	MaxTags          = 100
	MaxAttributes    = fields.MaxAttributes    // keys of attributes (and of an activity's properties)
	MaxAttributesLen = fields.MaxAttributesLen // bytes of them as JSON
	MaxExternalIDs   = 20
	MaxExternalIDLen = 200
	MaxDomainLen     = 253
)

var (
	phonePattern  = regexp.MustCompile(`^\+?[0-9 ()./-]+$`)
	sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,49}$`)
	domainPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
)

// NormalizeEmail trims and lower-cases an address, the form crmkit stores
// and looks up. Invalid UTF-8 is left as it is, for validation to refuse
// (lower-casing would silently replace it).
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return s
	}
	return strings.ToLower(s)
}

func checkEmail(v *core.ValidationError, email string) {
	if email == "" {
		return
	}
	if !core.StorableText(email) {
		v.Add("email", "is not valid text (invalid UTF-8 or a NUL byte)")
		return
	}
	if len(email) > MaxEmailLen {
		v.Add("email", "is longer than %d characters", MaxEmailLen)
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || strings.ContainsAny(email, " \t\r\n") {
		v.Add("email", "is not a valid address")
		return
	}
	_, domain, _ := strings.Cut(email, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		v.Add("email", "is not a valid address (the domain needs a dot)")
	}
}

// checkKey refuses a lookup key that no stored value can equal, before it
// reaches the database.
func checkKey(field, s string) error {
	if !core.StorableText(s) {
		return core.Invalid(field, "is not valid text (invalid UTF-8 or a NUL byte)")
	}
	return nil
}

func checkPhone(v *core.ValidationError, phone string) {
	if phone == "" {
		return
	}
	if len(phone) > MaxPhoneLen {
		v.Add("phone", "is longer than %d characters", MaxPhoneLen)
		return
	}
	digits := strings.Count(phone, "0") + strings.Count(phone, "1") + strings.Count(phone, "2") +
		strings.Count(phone, "3") + strings.Count(phone, "4") + strings.Count(phone, "5") +
		strings.Count(phone, "6") + strings.Count(phone, "7") + strings.Count(phone, "8") + strings.Count(phone, "9")
	if !phonePattern.MatchString(phone) || digits < 3 {
		v.Add("phone", "is not a phone number (digits, spaces, + ( ) . / - only)")
	}
}

func checkStage(v *core.ValidationError, s Stage) {
	if !slices.Contains(Stages, s) {
		v.Add("lifecycle_stage", "%q is not one of %s", s, strings.Join(stageNames(), ", "))
	}
}

// normalizeTags trims, drops empties and duplicates, keeps order.
func normalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func checkTags(v *core.ValidationError, tags []string) {
	if len(tags) > MaxTags {
		v.Add("tags", "has more than %d tags", MaxTags)
		return
	}
	for _, t := range tags {
		if !utf8.ValidString(t) || utf8.RuneCountInString(t) > MaxTagLen || strings.IndexFunc(t, unicode.IsControl) >= 0 {
			v.Add("tags", "%q is not a tag (at most %d printable characters)", t, MaxTagLen)
		}
	}
}

func checkExternalIDs(v *core.ValidationError, ids []ExternalID) {
	if len(ids) > MaxExternalIDs {
		v.Add("external_ids", "has more than %d ids", MaxExternalIDs)
		return
	}
	for i, x := range ids {
		if !sourcePattern.MatchString(x.Source) {
			v.Add("external_ids", "[%d] source %q must be 1-50 lower-case letters, digits, _ . -", i, x.Source)
		}
		if x.ID == "" || len(x.ID) > MaxExternalIDLen || !utf8.ValidString(x.ID) || strings.IndexFunc(x.ID, unicode.IsControl) >= 0 {
			v.Add("external_ids", "[%d] id must be 1-%d printable characters", i, MaxExternalIDLen)
		}
		for _, y := range ids[:i] {
			if y == x {
				v.Add("external_ids", "[%d] (source %s) is given twice", i, x.Source)
			}
		}
	}
}

// normalize trims and lower-cases what crmkit stores normalised.
func (in *NewContact) normalize() {
	in.Email = NormalizeEmail(in.Email)
	in.Phone = strings.TrimSpace(in.Phone)
	in.FirstName = strings.TrimSpace(in.FirstName)
	in.LastName = strings.TrimSpace(in.LastName)
	in.OwnerID = strings.TrimSpace(in.OwnerID)
	in.Tags = normalizeTags(in.Tags)
	if in.LifecycleStage == "" {
		in.LifecycleStage = StageLead
	}
	for i := range in.ExternalIDs {
		in.ExternalIDs[i].Source = strings.TrimSpace(in.ExternalIDs[i].Source)
		in.ExternalIDs[i].ID = strings.TrimSpace(in.ExternalIDs[i].ID)
	}
}

// validateContact checks a whole contact, its attributes against the
// tenant's field definitions too, and returns its attributes JSON.
func validateContact(c *Contact, extIDs []ExternalID, defs []*fields.Definition) ([]byte, error) {
	v := &core.ValidationError{}
	checkEmail(v, c.Email)
	checkPhone(v, c.Phone)
	v.CheckText("first_name", c.FirstName, MaxNameLen)
	v.CheckText("last_name", c.LastName, MaxNameLen)
	v.CheckText("owner_id", c.OwnerID, MaxOwnerLen)
	checkStage(v, c.LifecycleStage)
	checkTags(v, c.Tags)
	attrs := fields.Module.CheckAttributes(v, c.Attributes)
	fields.Module.Check(v, defs, c.Attributes)
	checkExternalIDs(v, extIDs)
	if c.CompanyID != nil && *c.CompanyID == core.NilID {
		c.CompanyID = nil
	}
	if c.Email == "" && c.Phone == "" && c.FirstName == "" && c.LastName == "" && len(c.ExternalIDs) == 0 && len(extIDs) == 0 {
		v.Add("contact", "needs at least an email, a phone, a name or an external id")
	}
	return attrs, v.Err()
}

// NormalizeDomain lower-cases a domain and strips a scheme, "www." and a
// trailing path, so "https://www.Example.com/about" becomes "example.com".
func NormalizeDomain(s string) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return s // refused by validation
	}
	s = strings.ToLower(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "www."), ".")
}

func validateCompany(c *Company, defs []*fields.Definition) ([]byte, error) {
	v := &core.ValidationError{}
	if c.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", c.Name, MaxNameLen)
	if c.Domain != "" && (len(c.Domain) > MaxDomainLen || !domainPattern.MatchString(c.Domain)) {
		v.Add("domain", "is not a domain name")
	}
	attrs := fields.Module.CheckAttributes(v, c.Attributes)
	fields.Module.Check(v, defs, c.Attributes)
	return attrs, v.Err()
}
