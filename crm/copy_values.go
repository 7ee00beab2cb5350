package crm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/internal/dialect"
)

// The values of a copied row: decoded from what either driver returns
// into what the destination is written with, and written in one canonical
// text for the checksum.

// decodeValue turns a value as a driver returned it into the Go value
// the destination is written with, and its canonical text.
func decodeValue(k colKind, v any) (any, string, error) {
	if v == nil {
		return nil, "", nil
	}
	switch k {
	case kindID:
		var id uuid.UUID
		var err error
		switch x := v.(type) {
		case string:
			id, err = uuid.Parse(x)
		case []byte:
			if len(x) == 16 {
				id, err = uuid.FromBytes(x)
			} else {
				id, err = uuid.ParseBytes(x)
			}
		case [16]byte:
			id = x
		default:
			err = fmt.Errorf("unexpected %T", v)
		}
		if err != nil {
			return nil, "", fmt.Errorf("not an id: %w", err)
		}
		return id, id.String(), nil
	case kindTime:
		t, err := decodeTime(v)
		if err != nil {
			return nil, "", err
		}
		t = t.UTC().Truncate(time.Microsecond)
		return t, t.Format(time.RFC3339Nano), nil
	case kindJSON:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = x
		default:
			return nil, "", fmt.Errorf("unexpected %T for JSON", v)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			return nil, "", fmt.Errorf("not JSON: %w", err)
		}
		c, err := canonicalJSON(b)
		if err != nil {
			return nil, "", err
		}
		return compact.String(), c, nil
	case kindInt:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int:
			n = int64(x)
		case bool:
			if x {
				n = 1
			}
		case string:
			var err error
			if n, err = strconv.ParseInt(x, 10, 64); err != nil {
				return nil, "", fmt.Errorf("not an integer: %w", err)
			}
		case []byte:
			var err error
			if n, err = strconv.ParseInt(string(x), 10, 64); err != nil {
				return nil, "", fmt.Errorf("not an integer: %w", err)
			}
		default:
			return nil, "", fmt.Errorf("unexpected %T for an integer", v)
		}
		return n, strconv.FormatInt(n, 10), nil
	case kindBool:
		var b bool
		switch x := v.(type) {
		case bool:
			b = x
		case int64:
			b = x != 0
		case string:
			var err error
			if b, err = strconv.ParseBool(x); err != nil {
				return nil, "", fmt.Errorf("not a boolean: %w", err)
			}
		default:
			return nil, "", fmt.Errorf("unexpected %T for a boolean", v)
		}
		return b, strconv.FormatBool(b), nil
	case kindBytes:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = slices.Clone(x)
		case string:
			b = []byte(x)
		default:
			return nil, "", fmt.Errorf("unexpected %T for bytes", v)
		}
		return b, hex.EncodeToString(b), nil
	case kindFloat:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		default:
			return nil, "", fmt.Errorf("unexpected %T for a number", v)
		}
		return f, strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	switch x := v.(type) {
	case string:
		return x, x, nil
	case []byte:
		return string(x), string(x), nil
	case time.Time:
		// A text column SQLite's driver read as a time: keep the text
		// crmkit wrote.
		s := x.UTC().Format(dialect.TimeLayout)
		return s, s, nil
	case int64:
		s := strconv.FormatInt(x, 10)
		return s, s, nil
	}
	return nil, "", fmt.Errorf("unexpected %T for text", v)
}

// timeLayouts are the texts of times SQLite may hold: crmkit's own, and
// those of other writers (River, SQLite's CURRENT_TIMESTAMP).
var timeLayouts = []string{dialect.TimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"}

func decodeTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("not a time: %q", x)
	case []byte:
		return decodeTime(string(x))
	}
	return time.Time{}, fmt.Errorf("unexpected %T for a time", v)
}

// canonicalJSON is JSON text in one form: keys sorted, no spaces, numbers
// in plain decimal notation without trailing zeros (PostgreSQL's jsonb
// rewrites 1e2 as 100), strings escaped as encoding/json does.
func canonicalJSON(b []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	v, err := normalizeNumbers(v)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func normalizeNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		d, err := decimal.NewFromString(x.String())
		if err != nil {
			return nil, fmt.Errorf("not a JSON number: %q", x)
		}
		return json.Number(d.String()), nil
	case map[string]any:
		for k, e := range x {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}
