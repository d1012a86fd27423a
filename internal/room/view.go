package room

import (
	"sort"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

// APILearner is one entry of GET /api/learners.
type APILearner struct {
	Name    string      `json:"name"`
	Current string      `json:"current"`
	Steps   []APIStep   `json:"steps"`
	Failing *APIFailing `json:"failing"`
	Updated *time.Time  `json:"updated"`
}

// APIStep is a step's status in the API.
type APIStep struct {
	ID     string       `json:"id"`
	Status steps.Status `json:"status"`
}

// APIFailing is the first failing check of a learner.
type APIFailing struct {
	Step    string `json:"step"`
	Check   string `json:"check"`
	Message string `json:"message"`
}

// APILearners is the body of GET /api/learners: every learner, by name.
// "current" is what the learner's own `check -o json` calls current;
// "failing" is null when nothing fails, "updated" null before the first
// report.
func APILearners(ls []Learner) []APILearner {
	out := make([]APILearner, 0, len(ls))
	for _, l := range ls {
		a := APILearner{Name: l.Name, Current: l.Current, Steps: make([]APIStep, len(l.Steps))}
		for i, s := range l.Steps {
			a.Steps[i] = APIStep{ID: s.ID, Status: s.Status}
		}
		if f, ok := l.Failing(); ok {
			a.Failing = &APIFailing{Step: f.ID, Check: f.Check, Message: f.Message}
		}
		if !l.Updated.IsZero() {
			u := l.Updated.UTC()
			a.Updated = &u
		}
		out = append(out, a)
	}
	return out
}

// View is what the dashboard shows, sent whole on every change.
type View struct {
	Now        time.Time     `json:"now"`
	StuckAfter float64       `json:"stuck_after_seconds"`
	Steps      []ViewStep    `json:"steps"`
	Learners   []ViewLearner `json:"learners"`
	// Done counts the learners whose every step passes.
	Done   int         `json:"done"`
	Stuck  int         `json:"stuck"`
	Groups []ViewGroup `json:"groups"`
	// Announced is the drill announced to the room, "" when none.
	Announced string `json:"announced"`
	// Drills groups the learners by their last drill (the announced one
	// first, see WithAnnounced); Catalog lists every drill.
	Drills  []ViewDrill     `json:"drills"`
	Catalog []ViewDrillInfo `json:"catalog"`
}

// ViewStep is a course step with how many learners work on it.
type ViewStep struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// At counts the learners working on this step.
	At int `json:"at"`
}

// ViewLearner is a dashboard row.
type ViewLearner struct {
	// ID names the learner to DELETE /api/learners?id= (the page's remove
	// button); it proves nothing without the learner's secret.
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Current string         `json:"current"`
	At      string         `json:"at"`
	Since   time.Time      `json:"since"`
	Updated *time.Time     `json:"updated"`
	Stuck   bool           `json:"stuck"`
	Failing *StepReport    `json:"failing"`
	Steps   []steps.Status `json:"steps"`
	// Drill is the learner's last drill, null before any.
	Drill *ViewLearnerDrill `json:"drill"`
}

// ViewGroup is a set of learners failing the same check of the same step.
// Messages often name each learner's own paths, so they do not split a
// group: Message is the most common one, and Variants counts the others.
type ViewGroup struct {
	Step     string   `json:"step"`
	Check    string   `json:"check"`
	Message  string   `json:"message"`
	Variants int      `json:"variants"`
	Names    []string `json:"names"`
}

// Stuck reports whether a learner has not advanced for stuckAfter and is
// not done.
func Stuck(l *Learner, now time.Time, stuckAfter time.Duration) bool {
	return stuckAfter > 0 && l.At() != "" && now.Sub(l.Since) >= stuckAfter
}

// BuildView aggregates the room for the dashboard.
func BuildView(ls []Learner, now time.Time, stuckAfter time.Duration) View {
	v := View{Now: now.UTC(), StuckAfter: stuckAfter.Seconds(), Learners: make([]ViewLearner, 0, len(ls)), Groups: []ViewGroup{},
		Drills: drillGroups(ls), Catalog: drillCatalog()}
	index := map[string]int{}
	for i, s := range steps.All() {
		v.Steps = append(v.Steps, ViewStep{ID: s.ID, Title: s.Title})
		index[s.ID] = i
	}
	type key struct{ step, check string }
	groups := map[key]*ViewGroup{}
	messages := map[key]map[string]int{}
	for i := range ls {
		l := &ls[i]
		row := ViewLearner{ID: l.ID, Name: l.Name, Current: l.Current, At: l.At(), Since: l.Since.UTC(), Stuck: Stuck(l, now, stuckAfter), Drill: viewLearnerDrill(l)}
		if !l.Updated.IsZero() {
			u := l.Updated.UTC()
			row.Updated = &u
		}
		for _, s := range l.Steps {
			row.Steps = append(row.Steps, s.Status)
		}
		if f, ok := l.Failing(); ok {
			f := f
			row.Failing = &f
			k := key{f.ID, f.Check}
			g := groups[k]
			if g == nil {
				g = &ViewGroup{Step: f.ID, Check: f.Check}
				groups[k] = g
				messages[k] = map[string]int{}
			}
			g.Names = append(g.Names, l.Name)
			messages[k][f.Message]++
		}
		if row.At == "" {
			v.Done++
		} else {
			v.Steps[index[row.At]].At++
		}
		if row.Stuck {
			v.Stuck++
		}
		v.Learners = append(v.Learners, row)
	}
	for k, g := range groups {
		sort.Strings(g.Names)
		best := -1
		for m, n := range messages[k] {
			if n > best || (n == best && m < g.Message) {
				g.Message, best = m, n
			}
		}
		g.Variants = len(messages[k]) - 1
		v.Groups = append(v.Groups, *g)
	}
	sort.Slice(v.Groups, func(i, j int) bool {
		a, b := v.Groups[i], v.Groups[j]
		if len(a.Names) != len(b.Names) {
			return len(a.Names) > len(b.Names)
		}
		if index[a.Step] != index[b.Step] {
			return index[a.Step] < index[b.Step]
		}
		return a.Check < b.Check
	})
	return v
}
