package trainer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// DefaultEngine is the engine of a model whose Params.Engine is empty.
const DefaultEngine = "native"

// Engines chooses, for each model, the engine its Params.Engine names
// (DefaultEngine when empty). It is itself an Engine, the one a process
// hands to its workers and its API.
type Engines struct {
	engines map[string]Engine
	missing map[string]string
}

var _ Engine = (*Engines)(nil)

// NewEngines returns the engines by name. A nil Engine names an engine
// this build knows that the process was not given (Spark without a Spark
// URL): a model asking for it is refused with hint, which says how the
// operator turns it on.
func NewEngines(engines map[string]Engine, hints map[string]string) *Engines {
	e := &Engines{engines: map[string]Engine{}, missing: map[string]string{}}
	for name, eng := range engines {
		if eng == nil {
			e.missing[name] = hints[name]
			continue
		}
		e.engines[name] = eng
	}
	return e
}

// Names are the engines this process trains with, sorted.
func (e *Engines) Names() []string {
	var names []string
	for n := range e.engines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// engine is p's engine, or the EINVALID error naming the field engine.
func (e *Engines) engine(p ophicleide.Params) (Engine, error) {
	name := p.Engine
	if name == "" {
		name = DefaultEngine
	}
	if eng, ok := e.engines[name]; ok {
		return eng, nil
	}
	if hint, ok := e.missing[name]; ok {
		msg := fmt.Sprintf("this server has no %s engine", name)
		if hint != "" {
			msg += " (" + hint + ")"
		}
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "engine", Message: msg}
	}
	return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "engine",
		Message: fmt.Sprintf("unknown engine %q (this server trains with %s)", name, strings.Join(e.Names(), ", "))}
}

// Validate implements Engine: p's engine's Validate.
func (e *Engines) Validate(p ophicleide.Params) error {
	eng, err := e.engine(p)
	if err != nil {
		return err
	}
	return eng.Validate(p)
}

// Train implements Engine: p's engine trains it.
func (e *Engines) Train(ctx context.Context, job Job) (*Result, error) {
	eng, err := e.engine(job.Params)
	if err != nil {
		return nil, err
	}
	return eng.Train(ctx, job)
}

// Schemes implements Engine: p's engine's schemes (none when p names no
// engine of this process).
func (e *Engines) Schemes(p ophicleide.Params) []string {
	eng, err := e.engine(p)
	if err != nil {
		return nil
	}
	return eng.Schemes(p)
}

// Engine returns the engine named name, if the process has it.
func (e *Engines) Engine(name string) (Engine, bool) {
	eng, ok := e.engines[name]
	return eng, ok
}
