package room

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kubetutor/kubetutor/drills"
)

// DrillState is where a learner's drill stands.
type DrillState string

// The states of a drill, as `kubetutor drill` leaves them.
const (
	// DrillOn: started, neither solved nor restored.
	DrillOn DrillState = "on"
	// DrillSolved: drill status graded the fix.
	DrillSolved DrillState = "solved"
	// DrillRestored: the learner gave up and drill restore undid the fault.
	DrillRestored DrillState = "restored"
)

// MaxDrillSeconds bounds the times a drill report carries: a drill started
// longer ago is reported as this old.
const MaxDrillSeconds = 30 * 24 * 3600

// ErrUnknownDrill is a drill ID this kubetutor does not have.
var ErrUnknownDrill = errors.New("unknown drill")

// DrillReport is the drill part of a report: which drill the learner is on,
// where it stands, and its times in whole seconds, measured on the
// learner's machine. Nothing else of the drill travels.
type DrillReport struct {
	ID    string     `json:"id"`
	State DrillState `json:"state"`
	// Seconds is the time since the drill started.
	Seconds int64 `json:"seconds"`
	// FixSeconds is the time from the start to the fix, once solved.
	FixSeconds int64 `json:"fix_seconds,omitempty"`
}

// FromDrill is the room's report of drill id, from its record in the
// learner's drills state at now.
func FromDrill(id string, rec drills.Record, now time.Time) DrillReport {
	d := DrillReport{ID: id, State: DrillOn, Seconds: seconds(now.Sub(rec.Started))}
	switch {
	case rec.Solved != nil:
		d.State = DrillSolved
		d.FixSeconds = min(seconds(rec.Solved.Sub(rec.Started)), d.Seconds)
	case rec.Restored != nil:
		d.State = DrillRestored
	}
	return d
}

// seconds is d in whole seconds, within 0 and MaxDrillSeconds.
func seconds(d time.Duration) int64 {
	return min(max(int64(d/time.Second), 0), MaxDrillSeconds)
}

// KnownDrill says id is one of this kubetutor's drills.
func KnownDrill(id string) bool { return slices.Contains(drills.IDs(), id) }

// CheckDrillID checks a drill ID from the network or a file: one of this
// kubetutor's drills.
func CheckDrillID(id string) error {
	if !KnownDrill(id) {
		return fmt.Errorf("%w %q", ErrUnknownDrill, clipTo(id, 40))
	}
	return nil
}

// Validate checks a drill report from the network: a known drill, a known
// state, times within 0 and MaxDrillSeconds, and a time to fix only for a
// solved drill, no longer than the time since the start.
func (d DrillReport) Validate() error {
	if err := CheckDrillID(d.ID); err != nil {
		return err
	}
	if err := checkDrillState(d.State, d.FixSeconds); err != nil {
		return fmt.Errorf("drill %s: %w", d.ID, err)
	}
	switch {
	case d.Seconds < 0 || d.Seconds > MaxDrillSeconds:
		return fmt.Errorf("drill %s: %d seconds since the start, not within 0 and %d", d.ID, d.Seconds, MaxDrillSeconds)
	case d.FixSeconds > d.Seconds:
		return fmt.Errorf("drill %s: fixed in %d seconds, more than the %d since the start", d.ID, d.FixSeconds, d.Seconds)
	}
	return nil
}

// checkDrillState checks a drill's state and its time to fix.
func checkDrillState(state DrillState, fix int64) error {
	switch state {
	case DrillOn, DrillSolved, DrillRestored:
	default:
		return fmt.Errorf("unknown state %q", clipTo(string(state), 20))
	}
	switch {
	case fix < 0 || fix > MaxDrillSeconds:
		return fmt.Errorf("fixed in %d seconds, not within 0 and %d", fix, MaxDrillSeconds)
	case fix != 0 && state != DrillSolved:
		return fmt.Errorf("a time to fix, but the drill is %s, not solved", state)
	}
	return nil
}

// DrillStatus is a learner's last drill as the room keeps it. Its times are
// the room's own: the learner's clock counts only as a difference.
type DrillStatus struct {
	ID    string     `json:"id"`
	State DrillState `json:"state"`
	// Started is when the drill started: when the report came, less the
	// seconds it said.
	Started time.Time `json:"started"`
	// FixSeconds is the time to fix, once solved.
	FixSeconds int64 `json:"fix_seconds,omitempty"`
	// Heard is when the room last heard of the drill.
	Heard time.Time `json:"heard"`
}

// status is the record of a drill report received at now.
func (d DrillReport) status(now time.Time) *DrillStatus {
	return &DrillStatus{ID: d.ID, State: d.State, Started: now.Add(-time.Duration(d.Seconds) * time.Second), FixSeconds: d.FixSeconds, Heard: now}
}

// storedDrill checks a learner's stored drill. A drill this kubetutor does
// not have (the room kept by another version) is dropped, not the room;
// anything else the room would not have written is an error.
func storedDrill(d *DrillStatus) (*DrillStatus, error) {
	if d == nil || !KnownDrill(d.ID) {
		return nil, nil
	}
	if err := checkDrillState(d.State, d.FixSeconds); err != nil {
		return nil, fmt.Errorf("drill %s: %w", d.ID, err)
	}
	return d, nil
}

// metaAnnounced is the meta key of the announced drill.
const metaAnnounced = "announced-drill"

// Announce announces drill id to the room ("" withdraws the announcement),
// kept with the room. Learners start it with drill start --from-room: the
// room never starts anything on a learner's machine.
func (s *Store) Announce(id string) error {
	if id != "" {
		if err := CheckDrillID(id); err != nil {
			return err
		}
	}
	if err := s.SetMeta(metaAnnounced, id); err != nil {
		return fmt.Errorf("announce drill %s: %w", id, err)
	}
	s.mu.Lock()
	s.announced = id
	s.notify()
	s.mu.Unlock()
	return nil
}

// Announced is the drill announced to the room, "" when none.
func (s *Store) Announced() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.announced
}

// loadAnnounced reads the announced drill kept with the room; one this
// kubetutor does not have is forgotten.
func (s *Store) loadAnnounced() {
	if id := s.Meta(metaAnnounced); KnownDrill(id) {
		s.announced = id
	}
}

// Announcement is the body of POST /api/announce (the instructor's) and the
// answer to GET /api/announced (a learner's): the announced drill, "" when
// none.
type Announcement struct {
	Drill string `json:"drill"`
	Title string `json:"title,omitempty"`
}

// announcement is the announcement of drill id.
func announcement(id string) Announcement {
	a := Announcement{Drill: id}
	if d, err := drills.Lookup(id); err == nil {
		a.Title = d.Title
	}
	return a
}

// ViewDrillInfo is one of the course's drills, for the announce control.
type ViewDrillInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ViewDrill groups the learners whose last drill is one drill, by state.
type ViewDrill struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Announced bool   `json:"announced"`
	// On is by time on the drill, longest first; Solved by time to fix,
	// fastest first; Restored by name.
	On       []ViewDrillLearner `json:"on"`
	Solved   []ViewDrillLearner `json:"solved"`
	Restored []ViewDrillLearner `json:"restored"`
}

// ViewDrillLearner is a learner in a drill's group.
type ViewDrillLearner struct {
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	// FixSeconds is the time to fix, when solved.
	FixSeconds int64 `json:"fix_seconds"`
}

// ViewLearnerDrill is a learner's last drill, on their row.
type ViewLearnerDrill struct {
	ID         string     `json:"id"`
	State      DrillState `json:"state"`
	Started    time.Time  `json:"started"`
	FixSeconds int64      `json:"fix_seconds"`
}

func viewLearnerDrill(l *Learner) *ViewLearnerDrill {
	if l.Drill == nil {
		return nil
	}
	return &ViewLearnerDrill{ID: l.Drill.ID, State: l.Drill.State, Started: l.Drill.Started.UTC(), FixSeconds: l.Drill.FixSeconds}
}

// drillCatalog is every drill, for the announce control.
func drillCatalog() []ViewDrillInfo {
	out := []ViewDrillInfo{}
	for _, d := range drills.All() {
		out = append(out, ViewDrillInfo{ID: d.ID, Title: d.Title})
	}
	return out
}

// drillGroups groups the learners by their last drill and its state: the
// drills with the most learners first, then by ID.
func drillGroups(ls []Learner) []ViewDrill {
	byID := map[string]*ViewDrill{}
	for i := range ls {
		d := ls[i].Drill
		if d == nil {
			continue
		}
		g := byID[d.ID]
		if g == nil {
			g = newViewDrill(d.ID)
			byID[d.ID] = g
		}
		e := ViewDrillLearner{Name: ls[i].Name, Started: d.Started.UTC(), FixSeconds: d.FixSeconds}
		switch d.State {
		case DrillSolved:
			g.Solved = append(g.Solved, e)
		case DrillRestored:
			g.Restored = append(g.Restored, e)
		default:
			g.On = append(g.On, e)
		}
	}
	out := make([]ViewDrill, 0, len(byID))
	for _, g := range byID {
		sort.SliceStable(g.On, func(i, j int) bool { return g.On[i].Started.Before(g.On[j].Started) })
		sort.SliceStable(g.Solved, func(i, j int) bool { return g.Solved[i].FixSeconds < g.Solved[j].FixSeconds })
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if n, m := a.count(), b.count(); n != m {
			return n > m
		}
		return a.ID < b.ID
	})
	return out
}

func newViewDrill(id string) *ViewDrill {
	g := &ViewDrill{ID: id, On: []ViewDrillLearner{}, Solved: []ViewDrillLearner{}, Restored: []ViewDrillLearner{}}
	if d, err := drills.Lookup(id); err == nil {
		g.Title = d.Title
	}
	return g
}

func (g ViewDrill) count() int { return len(g.On) + len(g.Solved) + len(g.Restored) }

// WithAnnounced marks drill id as announced in the view: its group comes
// first, even with nobody on it yet.
func (v View) WithAnnounced(id string) View {
	v.Announced = id
	if id == "" {
		return v
	}
	groups := make([]ViewDrill, 0, len(v.Drills)+1)
	g := newViewDrill(id)
	for _, d := range v.Drills {
		if d.ID == id {
			g = &d
			continue
		}
		groups = append(groups, d)
	}
	g.Announced = true
	v.Drills = append([]ViewDrill{*g}, groups...)
	return v
}
