package room

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/steps"
)

// Errors of the store; the server maps them to HTTP statuses.
var (
	ErrNameTaken      = errors.New("a learner of that name is already in the room")
	ErrUnknownLearner = errors.New("no such learner in this room")
	ErrBadSecret      = errors.New("wrong learner secret")
	ErrRoomFull       = fmt.Errorf("the room is full (%d learners)", MaxLearners)
)

// MaxLearners bounds a room, so a leaked join token cannot fill the
// instructor's memory and disk.
const MaxLearners = 2000

// Learner is one learner's record: what the room knows of their cluster.
type Learner struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// SecretHash is the SHA-256 of the learner's secret; the secret itself
	// is never stored.
	SecretHash []byte `json:"secret_sha256"`
	// NonceHash is the SHA-256 of the join nonce the learner's state
	// directory makes for this room (JoinNonce); nil for clients that send
	// none. A join with the same nonce gets this record back.
	NonceHash []byte    `json:"nonce_sha256,omitempty"`
	Joined    time.Time `json:"joined"`
	// Updated is when the last report came; zero before the first.
	Updated time.Time `json:"updated"`
	// Since is when Current last changed (or the join).
	Since   time.Time `json:"since"`
	Current string    `json:"current"`
	// Steps holds one entry per course step, in course order.
	Steps []StepReport `json:"steps"`
	// Seq counts the reports, so that a late write never replaces a newer.
	Seq uint64 `json:"seq"`
	// Drill is the learner's last drill; nil before the first drill report
	// (and in rooms kept before drills).
	Drill *DrillStatus `json:"drill,omitempty"`
}

// Failing is the first failing step's first failing check, if any.
func (l *Learner) Failing() (StepReport, bool) {
	for _, s := range l.Steps {
		if s.Status == steps.Fail {
			return s, true
		}
	}
	return StepReport{}, false
}

// At is the step the learner is working on: the failing one, else the first
// that does not pass; "" when every step passes.
func (l *Learner) At() string {
	if f, ok := l.Failing(); ok {
		return f.ID
	}
	for _, s := range l.Steps {
		if s.Status != steps.Pass {
			return s.ID
		}
	}
	return ""
}

func (l *Learner) clone() Learner {
	c := *l
	c.Steps = append([]StepReport(nil), l.Steps...)
	c.SecretHash = append([]byte(nil), l.SecretHash...)
	if l.NonceHash != nil {
		c.NonceHash = append([]byte(nil), l.NonceHash...)
	}
	if l.Drill != nil {
		d := *l.Drill
		c.Drill = &d
	}
	return c
}

// apply merges a report into the record.
func (l *Learner) apply(rep Report, now time.Time) {
	byID := map[string]StepReport{}
	for _, s := range rep.Steps {
		byID[s.ID] = s
	}
	for i, s := range l.Steps {
		r, ok := byID[s.ID]
		switch {
		case rep.Full && ok:
			l.Steps[i] = r
		case rep.Full:
			l.Steps[i] = StepReport{ID: s.ID, Status: steps.Skip}
		case ok && r.Status != steps.Skip:
			l.Steps[i] = r
		}
	}
	cur := ""
	for _, s := range l.Steps {
		if s.Status != steps.Pass {
			break
		}
		cur = s.ID
	}
	if cur != l.Current {
		l.Current = cur
		l.Since = now
	}
	if rep.Drill != nil {
		l.Drill = rep.Drill.status(now)
	}
	l.Updated = now
	l.Seq++
}

func emptySteps() []StepReport {
	ids := steps.IDs()
	out := make([]StepReport, len(ids))
	for i, id := range ids {
		out[i] = StepReport{ID: id, Status: steps.Skip}
	}
	return out
}

// Store keeps the room: the learners in memory, and on disk (bbolt) when
// opened with a directory.
type Store struct {
	mu   sync.RWMutex
	byID map[string]*Learner
	// byName holds each name's nameKey: names that look the same are
	// the same name.
	byName  map[string]string
	changed chan struct{}
	db      *bolt.DB
	// announced is the drill announced to the room (Announce).
	announced string

	// Reports reach the disk in the background (FlushEvery): a report is
	// answered once it is in memory, and a crash loses at most the last
	// FlushEvery of reports, which the learners' next checks send again.
	// Joins are written before they are answered: a learner's secret is
	// never lost.
	dirtyMu   sync.Mutex
	dirty     map[string]Learner
	flushErr  error
	stopFlush chan struct{}
	flushDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// FlushEvery is how often reports are written to the --data store.
const FlushEvery = 200 * time.Millisecond

var (
	bucketLearners = []byte("learners")
	bucketMeta     = []byte("meta")
)

// DBFile is the store's file in the --data directory.
const DBFile = "room.db"

// DamagedError says the room's database cannot be used: bbolt refused it,
// panicked on it, or a record in it does not decode.
type DamagedError struct {
	Path   string
	Reason string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("the room's database %s is damaged (%s); move it aside (mv %s %s) and run room serve again: "+
		"the room starts empty (pass --join-token and --instructor-token to keep the old tokens), learners run their room join command again, "+
		"and their next checks refill the room", e.Path, e.Reason, shellquote.Quote(e.Path), shellquote.Quote(e.Path+".damaged"))
}

// ErrDamaged is matched by errors.Is for every *DamagedError.
var ErrDamaged = errors.New("damaged room database")

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// DataDirFlag names how to choose the room's data directory, for messages.
const DataDirFlag = "--data DIR"

// OpenStore opens the room kept in dir (created 0700 if missing; it must be
// the user's own and not writable by others: it holds the tokens and the
// TLS key), or an in-memory room when dir is "". A damaged database is a
// *DamagedError, never a panic; a database file that is not a regular file
// is refused without being opened.
func OpenStore(dir string) (*Store, error) {
	s := &Store{byID: map[string]*Learner{}, byName: map[string]string{}, changed: make(chan struct{})}
	if dir == "" {
		return s, nil
	}
	if err := fsutil.MkdirPrivate(dir, DataDirFlag); err != nil {
		return nil, fmt.Errorf("the room's data directory: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	if err := fsutil.CheckRegular(path); err != nil {
		return nil, fmt.Errorf("open the room's database: %w; move it aside (mv %s %s) and run room serve again", err, shellquote.Quote(path), shellquote.Quote(path+".bad"))
	}
	if err := checkBolt(path); err != nil {
		return nil, &DamagedError{Path: path, Reason: err.Error()}
	}
	db, learners, err := openDB(path)
	if err != nil {
		return nil, err
	}
	for _, l := range learners {
		s.byID[l.ID] = l
		// Names stored before names were compared by nameKey may share
		// one: the first keeps the name, the others their rows.
		if _, taken := s.byName[nameKey(l.Name)]; !taken {
			s.byName[nameKey(l.Name)] = l.ID
		}
	}
	s.db = db
	s.loadAnnounced()
	s.dirty = map[string]Learner{}
	s.stopFlush, s.flushDone = make(chan struct{}), make(chan struct{})
	go s.flusher()
	return s, nil
}

// openDB opens the bbolt file at path and reads every learner. bbolt trusts
// its file: a damaged one makes it panic (or fault, reading past the end of
// a truncated file), so the whole open runs with faults turned into panics
// and every panic into a *DamagedError. The file is opened through
// fsutil.OpenRegular, so a FIFO put there in the meantime neither blocks nor is
// written to.
func openDB(path string) (db *bolt.DB, learners []*Learner, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			// db.Close could wait forever on locks the panicking
			// transaction holds: close the file itself, which releases
			// the lock; the mapping stays until the process ends.
			if file != nil {
				file.Close()
			}
			db, learners = nil, nil
			err = &DamagedError{Path: path, Reason: fmt.Sprintf("bbolt: %v", r)}
		}
	}()
	if db, err = openBolt(path, &file); err != nil {
		return nil, nil, err
	}
	r := &dbReader{path: path, fileSize: -1}
	if fi, err := file.Stat(); err == nil {
		r.fileSize = fi.Size()
	}
	if err := r.read(db); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, r.learners, nil
}

// openBolt opens the bbolt file at path through fsutil.OpenRegular; *file is
// the file bbolt opened, set as soon as it is open.
func openBolt(path string, file **os.File) (*bolt.DB, error) {
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := fsutil.OpenRegular(name, flag, perm)
		*file = f
		return f, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, OpenFile: openFile})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: another room server holds it", path)
	case errors.Is(err, fsutil.ErrNotRegular):
		return nil, fmt.Errorf("open the room's database: %w; move it aside (mv %s %s) and run room serve again", err, shellquote.Quote(path), shellquote.Quote(path+".bad"))
	case err != nil && isFileSystemError(err):
		return nil, fmt.Errorf("open %s: %w", path, err)
	case err != nil:
		return nil, &DamagedError{Path: path, Reason: err.Error()}
	}
	return db, nil
}

// dbReader reads an open room database and checks it whole.
type dbReader struct {
	path     string
	fileSize int64 // -1: unknown
	// damage is what the file holds wrong, as opposed to an error of the
	// file system.
	damage   error
	learners []*Learner
}

// read makes the buckets, reads every learner and runs bbolt's own
// consistency check: a damaged file is a *DamagedError.
func (r *dbReader) read(db *bolt.DB) error {
	err := db.Update(r.load)
	if err == nil {
		// bbolt's own consistency check (pages lost or freed twice) reads
		// only pages read above: it cannot fault.
		err = db.View(r.check)
	}
	if err != nil {
		if r.damage != nil || !isFileSystemError(err) {
			return &DamagedError{Path: r.path, Reason: err.Error()}
		}
		return fmt.Errorf("read %s: %w", r.path, err)
	}
	return nil
}

// load makes the buckets if missing, reads every page, and decodes every
// learner.
func (r *dbReader) load(tx *bolt.Tx) error {
	// A truncated file is read past its end later on, where no
	// recover helps (the background writer): refuse it now.
	if r.fileSize >= 0 && tx.Size() > r.fileSize {
		r.damage = fmt.Errorf("it is %d bytes, shorter than the %d its pages take: it was cut off", r.fileSize, tx.Size())
		return r.damage
	}
	for _, b := range [][]byte{bucketLearners, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			r.damage = err
			return err
		}
	}
	// Every page of every bucket is read here, in this goroutine,
	// before tx.Check reads them in one of its own.
	if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b, 0) }); err != nil {
		r.damage = err
		return err
	}
	names := map[string]string{}
	return tx.Bucket(bucketLearners).ForEach(func(k, v []byte) error {
		var stored struct {
			Name string `json:"name"`
		}
		l, err := decodeLearner(k, v)
		if err == nil {
			// The room never writes one name twice (as stored: the
			// decoder tidies older names).
			_ = json.Unmarshal(v, &stored)
			if names[stored.Name] != "" {
				err = fmt.Errorf("learners %s and %s are both named %q", names[stored.Name], l.ID, l.Name)
			}
		}
		if err != nil {
			r.damage = err
			return err
		}
		names[stored.Name] = l.ID
		r.learners = append(r.learners, &l)
		return nil
	})
}

// check runs tx.Check: the first problem it finds is the damage.
func (r *dbReader) check(tx *bolt.Tx) error {
	for cerr := range tx.Check() {
		if r.damage == nil {
			r.damage = cerr
		}
	}
	return r.damage
}

// walk reads every key and value of b and of the buckets nested in it.
func walk(b *bolt.Bucket, depth int) error {
	if depth > 8 {
		return errors.New("buckets nested deeper than the room ever makes them")
	}
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				return walk(nb, depth+1)
			}
		}
		return nil
	})
}

// isFileSystemError says err comes from the file system (permissions, a
// full disk), not from what the file holds.
func isFileSystemError(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

// decodeLearner reads one stored learner record (key: its ID). The file
// is outside input: anything kubetutor would not have written is an error.
func decodeLearner(key, value []byte) (Learner, error) {
	var l Learner
	if err := json.Unmarshal(value, &l); err != nil {
		return Learner{}, fmt.Errorf("learner %q: %w", clipTo(string(key), 40), err)
	}
	if !validID(string(key)) || l.ID != string(key) {
		return Learner{}, fmt.Errorf("learner %q: the record's id is %q", clipTo(string(key), 40), clipTo(l.ID, 40))
	}
	name, err := storedName(l.Name)
	if err != nil {
		return Learner{}, fmt.Errorf("learner %s: the name %q is not one the room accepts", l.ID, clipTo(l.Name, 80))
	}
	l.Name = name
	if len(l.SecretHash) != sha256.Size {
		return Learner{}, fmt.Errorf("learner %s: the secret's hash is %d bytes, not %d", l.ID, len(l.SecretHash), sha256.Size)
	}
	if l.NonceHash != nil && len(l.NonceHash) != sha256.Size {
		return Learner{}, fmt.Errorf("learner %s: the join nonce's hash is %d bytes, not %d", l.ID, len(l.NonceHash), sha256.Size)
	}
	if _, _, err := steps.Lookup(l.Current); l.Current != "" && err != nil {
		return Learner{}, fmt.Errorf("learner %s: unknown current step %q", l.ID, clipTo(l.Current, 40))
	}
	l.Steps = normalizeSteps(l.Steps)
	if err := (Report{Steps: l.Steps}).Validate(); err != nil {
		return Learner{}, fmt.Errorf("learner %s: %w", l.ID, err)
	}
	if l.Drill, err = storedDrill(l.Drill); err != nil {
		return Learner{}, fmt.Errorf("learner %s: %w", l.ID, err)
	}
	return l, nil
}

// storedName is a stored learner's name as CleanName has it now. Rooms
// kept before CleanName refused invisible and bidirectional characters
// may hold such names: those characters are dropped, not the room.
func storedName(name string) (string, error) {
	clean, err := CleanName(name)
	if err == nil || !utf8.ValidString(name) {
		return clean, err
	}
	return CleanName(strings.Map(func(r rune) rune {
		if isBidiControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || r == '\u2800' {
			return -1
		}
		return r
	}, name))
}

// validID says id is what Join makes: 16 lowercase hex digits.
func validID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// normalizeSteps lays stored steps over the course's, so a store written
// by an older course still has one entry per step.
func normalizeSteps(in []StepReport) []StepReport {
	out := emptySteps()
	for i := range out {
		for _, s := range in {
			if s.ID == out[i].ID {
				out[i] = s
			}
		}
	}
	return out
}

// Close writes what is pending and closes the store's file.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		close(s.stopFlush)
		<-s.flushDone
		s.closeErr = s.flush()
		if err := s.db.Close(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Store) flusher() {
	defer close(s.flushDone)
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopFlush:
			return
		case <-t.C:
			_ = s.flush()
		}
	}
}

// flush writes the reports received since the last flush in one
// transaction; on failure they stay pending for the next.
func (s *Store) flush() error {
	s.dirtyMu.Lock()
	batch := s.dirty
	s.dirty = map[string]Learner{}
	s.dirtyMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, l := range batch {
			if err := s.putNewer(tx, l); err != nil {
				return err
			}
		}
		return nil
	})
	s.dirtyMu.Lock()
	defer s.dirtyMu.Unlock()
	if err != nil {
		for id, l := range batch {
			if cur, ok := s.dirty[id]; !ok || cur.Seq < l.Seq {
				s.dirty[id] = l
			}
		}
		s.flushErr = fmt.Errorf("save the room's reports: %w", err)
		return s.flushErr
	}
	s.flushErr = nil
	return nil
}

// Err is the last background write's error, nil once a write succeeds.
func (s *Store) Err() error {
	if s.db == nil {
		return nil
	}
	s.dirtyMu.Lock()
	defer s.dirtyMu.Unlock()
	return s.flushErr
}

// Changed is closed at the next change of the room.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// notify wakes the waiters of Changed; s.mu must be held for writing.
func (s *Store) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Join adds a learner and returns its ID and secret (JoinWith without a
// nonce).
func (s *Store) Join(name, id, secret string, now time.Time) (string, string, error) {
	resp, err := s.JoinWith(JoinRequest{Name: name, ID: id, Secret: secret}, now)
	return resp.ID, resp.Secret, err
}

// InvalidJoinError is a join request the room refuses as malformed: a
// name CleanName refuses, a nonce that is not 64 hex digits.
type InvalidJoinError struct {
	What string // "name" or "nonce"
	Err  error
}

func (e *InvalidJoinError) Error() string { return e.Err.Error() }
func (e *InvalidJoinError) Unwrap() error { return e.Err }

// JoinWith adds a learner, or gives one their record back, and returns
// their ID and secret. A join is all or nothing: a record the room cannot
// save is taken back, so a failed join leaves no row and holds no name.
//
// A learner gets their record back (and may rename it) by giving its ID
// and secret, or its join nonce: the nonce is made from a key kept in the
// learner's state directory and the room's join token (JoinNonce), and the
// client writes that key before it first asks to join. So a learner whose
// join answer was lost (a timeout, Ctrl-C) or could not be saved (a full
// disk) joins again under their own name, from whichever address of the
// room (localhost, 127.0.0.1): same key, same token, same nonce; a
// reclaim by nonce gets a new secret, as the old one may be lost. Anyone
// else asking for a name held by another record is refused with
// ErrNameTaken, names being compared as nameKey has them. A nonce is only
// as secret as the learner's own secret: both travel in the clear over
// plain http, both only in TLS over https.
func (s *Store) JoinWith(req JoinRequest, now time.Time) (JoinResponse, error) {
	name, err := CleanName(req.Name)
	if err != nil {
		return JoinResponse{}, &InvalidJoinError{What: "name", Err: err}
	}
	key := nameKey(name)
	var nonceHash []byte
	if req.Nonce != "" {
		if b, err := hex.DecodeString(req.Nonce); err != nil || len(b) != sha256.Size || strings.ToLower(req.Nonce) != req.Nonce {
			return JoinResponse{}, &InvalidJoinError{What: "nonce", Err: errors.New("the join nonce is not 64 lowercase hex digits")}
		}
		sum := sha256.Sum256([]byte(req.Nonce))
		nonceHash = sum[:]
	}
	s.mu.Lock()
	var l *Learner
	secret := ""
	if req.ID != "" {
		if c, ok := s.byID[req.ID]; ok && checkSecret(c, req.Secret) {
			l, secret = c, req.Secret
		}
	}
	if l == nil && nonceHash != nil {
		for _, c := range s.byID {
			if len(c.NonceHash) == sha256.Size && subtle.ConstantTimeCompare(c.NonceHash, nonceHash) == 1 {
				l, secret = c, RandomToken()
				break
			}
		}
	}
	if l != nil {
		return s.rejoin(l, name, secret, nonceHash)
	}
	if other, taken := s.byName[key]; taken {
		s.mu.Unlock()
		return JoinResponse{}, fmt.Errorf("%w (as %q)", ErrNameTaken, s.nameOf(other))
	}
	if len(s.byID) >= MaxLearners {
		s.mu.Unlock()
		return JoinResponse{}, ErrRoomFull
	}
	id := randomHex(8)
	for s.byID[id] != nil {
		id = randomHex(8)
	}
	secret = RandomToken()
	sum := sha256.Sum256([]byte(secret))
	l = &Learner{ID: id, Name: name, SecretHash: sum[:], NonceHash: nonceHash, Joined: now, Since: now, Steps: emptySteps()}
	s.byID[id] = l
	s.byName[key] = id
	c := l.clone()
	s.notify()
	s.mu.Unlock()
	if err := s.persist(c); err != nil {
		// Take the join back: nobody has its secret yet.
		s.mu.Lock()
		if s.byID[id] == l {
			delete(s.byID, id)
			if s.byName[key] == id {
				delete(s.byName, key)
			}
			s.notify()
		}
		s.mu.Unlock()
		s.forget(id)
		return JoinResponse{}, err
	}
	return JoinResponse{Name: name, ID: id, Secret: secret}, nil
}

// nameOf is the name of the learner id; s.mu must be held.
func (s *Store) nameOf(id string) string {
	if l := s.byID[id]; l != nil {
		return l.Name
	}
	return ""
}

// rejoin gives l back under name with secret (a new one when it differs
// from l's), remembering nonceHash; s.mu is held and is released.
func (s *Store) rejoin(l *Learner, name, secret string, nonceHash []byte) (JoinResponse, error) {
	key := nameKey(name)
	if other, taken := s.byName[key]; taken && other != l.ID {
		s.mu.Unlock()
		return JoinResponse{}, fmt.Errorf("%w (as %q)", ErrNameTaken, s.nameOf(other))
	}
	prev := l.clone()
	s.unindex(l)
	l.Name = name
	sum := sha256.Sum256([]byte(secret))
	l.SecretHash = sum[:]
	if nonceHash != nil {
		l.NonceHash = nonceHash
	}
	l.Seq++ // newer than any report pending a write
	s.byName[key] = l.ID
	c := l.clone()
	s.notify()
	s.mu.Unlock()
	if err := s.persist(c); err != nil {
		// Take the new name, secret and nonce back; the reports that
		// came meanwhile stay, and the record is written again later.
		s.mu.Lock()
		if s.byID[l.ID] == l {
			s.unindex(l)
			l.Name, l.SecretHash, l.NonceHash = prev.Name, prev.SecretHash, prev.NonceHash
			s.putBack(l)
		}
		s.mu.Unlock()
		return JoinResponse{}, err
	}
	return JoinResponse{Name: name, ID: l.ID, Secret: secret}, nil
}

// unindex frees l's name; another record of the same nameKey (rooms kept
// before names were compared so) takes it. s.mu is held for writing.
func (s *Store) unindex(l *Learner) {
	key := nameKey(l.Name)
	if s.byName[key] != l.ID {
		return
	}
	delete(s.byName, key)
	for _, o := range s.byID {
		if o != l && nameKey(o.Name) == key {
			s.byName[key] = o.ID
			return
		}
	}
}

// markDirty queues l for the background writer, unless a newer copy is
// queued.
func (s *Store) markDirty(l Learner) {
	if s.db == nil {
		return
	}
	s.dirtyMu.Lock()
	defer s.dirtyMu.Unlock()
	if cur, ok := s.dirty[l.ID]; !ok || cur.Seq < l.Seq {
		s.dirty[l.ID] = l
	}
}

// forget drops what is queued for the learner id.
func (s *Store) forget(id string) {
	if s.db == nil {
		return
	}
	s.dirtyMu.Lock()
	delete(s.dirty, id)
	s.dirtyMu.Unlock()
}

// Remove takes a learner out of the room, by ID, else by name (as given,
// else any name that reads the same): their row goes, their name is free,
// and their secret and nonce no longer work. ErrUnknownLearner when no
// learner matches.
func (s *Store) Remove(id, name string) (Learner, error) {
	s.mu.Lock()
	l := s.byID[id]
	if l == nil && id == "" && name != "" {
		var found []*Learner
		for _, c := range s.byID {
			if c.Name == name {
				found = append(found, c)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
		if len(found) > 0 {
			l = found[0]
		} else {
			l = s.byID[s.byName[nameKey(name)]]
		}
	}
	if l == nil {
		s.mu.Unlock()
		return Learner{}, ErrUnknownLearner
	}
	s.unindex(l)
	delete(s.byID, l.ID)
	c := l.clone()
	s.notify()
	s.mu.Unlock()
	s.forget(c.ID)
	if s.db == nil {
		return c, nil
	}
	// The background writer skips records no longer in memory, so a
	// write that raced this one cannot bring the record back.
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLearners).Delete([]byte(c.ID)) })
	if err != nil {
		// Put the row back as it was: the room on disk still has it.
		s.mu.Lock()
		if _, back := s.byID[c.ID]; !back {
			s.byID[c.ID] = l
			s.putBack(l)
		}
		s.mu.Unlock()
		return Learner{}, fmt.Errorf("remove learner %s: %w", c.ID, err)
	}
	return c, nil
}

// putBack puts l, whose change did not reach the disk, back in the name
// index (unless another learner took its name meanwhile) and has it
// written again by the background writer. s.mu is held.
func (s *Store) putBack(l *Learner) {
	if _, taken := s.byName[nameKey(l.Name)]; !taken {
		s.byName[nameKey(l.Name)] = l.ID
	}
	l.Seq++
	s.markDirty(l.clone())
	s.notify()
}

func checkSecret(l *Learner, secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], l.SecretHash) == 1
}

// Check says whether secret is the learner id's: ErrUnknownLearner,
// ErrBadSecret or nil. It changes nothing.
func (s *Store) Check(id, secret string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.byID[id]
	switch {
	case !ok:
		return ErrUnknownLearner
	case !checkSecret(l, secret):
		return ErrBadSecret
	}
	return nil
}

// Report records a learner's report, after checking its secret.
func (s *Store) Report(id, secret string, rep Report, now time.Time) error {
	if err := rep.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	l, ok := s.byID[id]
	if !ok {
		s.mu.Unlock()
		return ErrUnknownLearner
	}
	if !checkSecret(l, secret) {
		s.mu.Unlock()
		return ErrBadSecret
	}
	l.apply(rep, now)
	c := l.clone()
	s.notify()
	s.mu.Unlock()
	s.markDirty(c)
	return nil
}

// persist writes a learner's record now (joins), unless a newer one is
// already there.
func (s *Store) persist(l Learner) error {
	if s.db == nil {
		return nil
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return s.putNewer(tx, l) }); err != nil {
		return fmt.Errorf("save learner %s: %w", l.ID, err)
	}
	return nil
}

// putNewer writes l unless a newer copy is stored or l was removed from
// the room since it was copied (Remove deletes from memory first).
func (s *Store) putNewer(tx *bolt.Tx, l Learner) error {
	s.mu.RLock()
	_, present := s.byID[l.ID]
	s.mu.RUnlock()
	if !present {
		return nil
	}
	b := tx.Bucket(bucketLearners)
	if old := b.Get([]byte(l.ID)); old != nil {
		var prev struct {
			Seq uint64 `json:"seq"`
		}
		if json.Unmarshal(old, &prev) == nil && prev.Seq > l.Seq {
			return nil
		}
	}
	data, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode learner %s: %w", l.ID, err)
	}
	return b.Put([]byte(l.ID), data)
}

// Learners returns copies of every record, by name.
func (s *Store) Learners() []Learner {
	s.mu.RLock()
	out := make([]Learner, 0, len(s.byID))
	for _, l := range s.byID {
		out = append(out, l.clone())
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Meta reads a setting kept with the room ("" when absent or in memory).
func (s *Store) Meta(key string) string {
	if s.db == nil {
		return ""
	}
	var v string
	_ = s.db.View(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bucketMeta).Get([]byte(key)))
		return nil
	})
	return v
}

// SetMeta keeps a setting with the room (nothing in memory).
func (s *Store) SetMeta(key, value string) error {
	if s.db == nil {
		return nil
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), []byte(value))
	}); err != nil {
		return fmt.Errorf("save %s: %w", key, err)
	}
	return nil
}

// RandomToken is 24 random bytes, URL-safe base64 (32 characters).
func RandomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
