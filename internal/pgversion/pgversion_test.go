package pgversion

import (
	"slices"
	"testing"
)

func TestNote(t *testing.T) {
	for _, c := range []struct {
		num  int
		want string
	}{
		{0, ""},
		{140023, ""},
		{150018, ""},
		{180004, ""},
		{130023, "PostgreSQL 13: pglinks supports 14 to 18; links may work but are not tested."},
		{90624, "PostgreSQL 9.6: pglinks supports 14 to 18; links may work but are not tested."},
		{190000, "PostgreSQL 19: pglinks supports 14 to 18; links may work but are not tested."},
		{200001, "PostgreSQL 20: pglinks supports 14 to 18; links may work but are not tested."},
	} {
		if got := Note(c.num); got != c.want {
			t.Errorf("Note(%d) = %q, want %q", c.num, got, c.want)
		}
	}
}

func TestMajorLabelAtLeast(t *testing.T) {
	if got := Supported(); !slices.Equal(got, []int{14, 15, 16, 17, 18}) {
		t.Errorf("Supported() = %v", got)
	}
	for _, c := range []struct {
		num   int
		major int
		label string
	}{{150018, 15, "15"}, {180004, 18, "18"}, {90624, 9, "9.6"}, {100023, 10, "10"}, {190000, 19, "19"}} {
		if Major(c.num) != c.major || Label(c.num) != c.label {
			t.Errorf("%d: Major %d Label %q, want %d %q", c.num, Major(c.num), Label(c.num), c.major, c.label)
		}
	}
	if !AtLeast(160000, 16) || AtLeast(159999, 16) || !AtLeast(170002, 16) {
		t.Error("AtLeast is off at the boundary")
	}
}
