package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Duration is a length of time written as a Go duration string ("10m",
// "1h30m"). It embeds time.Duration so callers use it as one.
type Duration struct {
	time.Duration
}

// durationType lets the decoder, the encoder and the schema treat
// Duration as a string rather than a struct.
var durationType = reflect.TypeFor[Duration]()

// String writes the duration the way a person would: 10m rather than 10m0s.
func (d Duration) String() string {
	s := d.Duration.String()
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-len(suffix)+1]
		}
	}
	return s
}

// MarshalJSON writes the duration as its string, so the normalised spec
// in a template's Metadata reads like the file.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	d.Duration = v
	return nil
}
