package checker

import "testing"

func TestARunIsStalledOnlyWhenItsVerdictIsUnknownForWantOfWork(t *testing.T) {
	tests := []struct {
		name             string
		verdict          Verdict
		written, minimum int
		want             bool
	}{
		{"an unknown run that wrote fewer sections than its minimum stalled", Unknown, 5, 20, true},
		{"an unknown run that did enough work is unknown for another reason", Unknown, 20, 20, false},
		{"a valid run never stalled, whatever it wrote", Valid, 5, 20, false},
		{"an invalid run is a violation, not a stall, even with little work", Invalid, 2, 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Stalled(tc.verdict, tc.written, tc.minimum); got != tc.want {
				t.Fatalf("Stalled(%s, %d, %d) = %v, want %v", tc.verdict, tc.written, tc.minimum, got, tc.want)
			}
		})
	}
}
