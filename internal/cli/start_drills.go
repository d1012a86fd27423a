package cli

import (
	"errors"
	"fmt"

	"github.com/kubetutor/kubetutor/drills"
)

type practiseAction int

const (
	actDrillStart practiseAction = iota
	actDrillStatus
	actDrillHint
	actDrillRestore
	actDrillQuit
)

// practise is the walkthrough once every step is done: drills on the
// learner's own cluster, through the same commands as kubetutor drill.
func (w *walkthrough) practise() error {
	for {
		active, err := w.activeDrill()
		if err != nil {
			return err
		}
		title, menu := "Practise: a drill breaks your cluster for you to find and fix the fault", []choice[practiseAction]{
			{"Start a drill", actDrillStart},
			{"Quit", actDrillQuit},
		}
		if active != "" {
			title, menu = "Drill "+active+" is on — what next?", []choice[practiseAction]{
				{"Grade my fix (drill status)", actDrillStatus},
				{"Show a hint", actDrillHint},
				{"Give up: undo the fault (drill restore)", actDrillRestore},
				{"Quit (the drill stays on; kubetutor drill status grades it later)", actDrillQuit},
			}
		}
		act, err := selectOne(w.ask, title, menu)
		if errors.Is(err, errInputClosed) || (err == nil && act == actDrillQuit) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.drillAction(act, active); err != nil {
			return err
		}
	}
}

// activeDrill is the drill that is on, if any.
func (w *walkthrough) activeDrill() (string, error) {
	st, err := drills.NewTrainer(w.env).Load()
	if err != nil {
		return "", err
	}
	return st.Active, nil
}

// drillAction runs one drill command as kubetutor drill would; what a
// command could not do is said, and the menu comes back.
func (w *walkthrough) drillAction(act practiseAction, active string) error {
	o := &DrillOptions{f: w.f, ID: active}
	var err error
	switch act {
	case actDrillStart:
		var choices []choice[string]
		for _, d := range drills.All() {
			choices = append(choices, choice[string]{d.ID + ": " + d.Title + " (after " + d.After + ")", d.ID})
		}
		if o.ID, err = selectOne(w.ask, "Which drill?", choices); err != nil {
			if errors.Is(err, errInputClosed) {
				return nil
			}
			return err
		}
		err = runDrillStart(w.ctx, o)
	case actDrillStatus:
		err = runDrillStatus(w.ctx, o)
	case actDrillHint:
		err = runDrillHint(w.ctx, o)
	case actDrillRestore:
		err = runDrillRestore(w.ctx, o)
	}
	var ee *ExitError
	switch {
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	case errors.As(err, &ee) && ee.Err == nil:
		// drill status: not solved yet, said already.
	case err != nil:
		fmt.Fprintf(w.out, "\n%v\n", err)
	}
	fmt.Fprintln(w.out)
	return nil
}
