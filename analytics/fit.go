package analytics

import (
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
)

// The fitting machinery the purchase models share: log-gamma and digamma
// differences that keep their digits at large parameters, bounded
// coordinates, the BFGS minimiser with its boundary snap, and the chunked
// sums over both cores.

// lbeta is the log of the Beta function.
func lbeta(a, b float64) float64 { return mathext.Lbeta(a, b) }

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// lgammaDiff is lnΓ(z+h) - lnΓ(z) for z > 0, h ≥ 0. For large z, where
// the two lnΓ nearly cancel, it is the difference of Stirling's series
// (lnΓ(w) = (w-½) ln w - w + ½ ln 2π + 1/(12w) - 1/(360w³) + …, the next
// term below 1e-18 for w ≥ 1000) written so that nothing cancels.
func lgammaDiff(z, h float64) float64 {
	if z < 1000 {
		return lgamma(z+h) - lgamma(z)
	}
	w := z + h
	return (z-0.5)*math.Log1p(h/z) + h*math.Log(w) - h + (1/w-1/z)/12 - (1/(w*w*w)-1/(z*z*z))/360
}

// digammaDiff is ψ(z+h) - ψ(z), ψ the digamma function, for z > 0, h ≥
// 0; for large z from the asymptotic series ψ(w) = ln w - 1/(2w) -
// 1/(12w²) + 1/(120w⁴) - ….
func digammaDiff(z, h float64) float64 {
	if z < 1000 {
		return mathext.Digamma(z+h) - mathext.Digamma(z)
	}
	w := z + h
	return math.Log1p(h/z) - (1/w-1/z)/2 - (1/(w*w)-1/(z*z))/12 + (1/(w*w*w*w)-1/(z*z*z*z))/120
}

// logAddExp is log(exp(a) + exp(b)) without overflow.
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// maxShape caps the fits' shape coordinates: r and a+b of BG/NBD, p and q
// of Gamma-Gamma. When the customers are alike in some respect, the
// likelihood keeps rising as the shape of that respect's distribution
// across them grows, with its mean fixed: a tenant whose customers all
// drop out with about the same probability drives a and b up together,
// a/(a+b) at the probability. (The benchmarks' generated customers, who
// never drop out but buy up to eleven times at uniform times, land
// there, with a/(a+b) about 0.19.) The estimate is then on the
// boundary, at infinity; the fit ends with the shape on maxShape (see
// minimise) and the other parameters at their best for it. A Gamma of
// shape 1e8 has a coefficient of variation of 1e-4, a Beta with a+b =
// 1e8 a standard deviation below 5e-5, and the log-likelihood and
// predictions differ from the limit's by terms of order N/maxShape and
// x/maxShape.
const maxShape = 1e8

// fitTolerance stops the fits: BFGS ends when no component of the
// gradient of the mean log-likelihood per customer, with respect to the
// logs of the optimiser's coordinates, exceeds it. On the test sets of
// TestFitStopsCloseEnough (4,000 to 20,000 customers) the estimates are
// then within 1e-4 of a standard error of the fully converged ones; the
// distance grows as the square root of the customers, so it stays below
// 0.01 up to about 100 million (extrapolated). The parameter-recovery
// tests allow three standard errors. 1e-4 left estimates up to a tenth
// of a standard error away; 1e-8 takes up to a third more evaluations
// (20 to 50 in all).
const fitTolerance = 1e-7

// bound is the range of a parameter's log. The optimiser moves an
// unbounded φ that maps to the log smoothly, lo + softplus(φ-lo) -
// softplus(φ-hi): within about e^-(hi-φ) of φ itself well inside the
// range, and saturating at its ends, so that a likelihood still rising
// towards an end flattens out there and the optimiser stops. snap: hi is
// a cap (maxShape) the fit may end on (see minimise).
type bound struct {
	lo, hi float64
	snap   bool
}

var (
	shapeBound = bound{lo: -30, hi: math.Log(maxShape), snap: true}
	scaleBound = bound{lo: -30, hi: 30}
)

// snapBelow: minimise puts a coordinate within this factor of its cap,
// and still rising, on the cap. Interior estimates of a shape above
// maxShape/snapBelow = 1e4 (a spread of 1% of the mean) are rare and
// then ill-determined; on the cap, they are kept only if the likelihood
// is no worse.
const snapBelow = 1e4

func softplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

func sigmoid(x float64) float64 {
	if x < 0 {
		e := math.Exp(x)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(-x))
}

func (b bound) log(phi float64) float64 { return b.lo + softplus(phi-b.lo) - softplus(phi-b.hi) }

// slope is the derivative of log at phi.
func (b bound) slope(phi float64) float64 { return sigmoid(phi-b.lo) - sigmoid(phi-b.hi) }

// objective is a mean negative log-likelihood per customer at the
// positive parameters p; it writes its gradient with respect to their
// logs into grad.
type objective func(p, grad []float64) float64

// minimise finds the parameters, within bounds, that minimise f, by BFGS
// from start, until no component of the gradient with respect to the
// optimiser's coordinates exceeds tol. It returns them and f there.
func minimise(f objective, start []float64, bounds []bound, tol float64) ([]float64, float64, error) {
	n := len(start)
	p, g := make([]float64, n), make([]float64, n)
	// Gonum asks for the value and the gradient at a point separately;
	// one pass computes both, kept for the second request.
	var at []float64
	var atF float64
	atG := make([]float64, n)
	eval := func(phi []float64) {
		if at != nil && slices.Equal(at, phi) {
			return
		}
		at = append(at[:0], phi...)
		for i, v := range phi {
			p[i] = math.Exp(bounds[i].log(v))
		}
		atF = f(p, g)
		if math.IsNaN(atF) || math.IsInf(atF, 0) {
			atF = math.Inf(1)
		}
		for i, v := range phi {
			atG[i] = g[i] * bounds[i].slope(v)
		}
	}
	problem := optimize.Problem{
		Func: func(phi []float64) float64 { eval(phi); return atF },
		Grad: func(grad, phi []float64) { eval(phi); copy(grad, atG) },
	}
	descend := func(phi []float64) ([]float64, float64, error) {
		best := math.Inf(1)
		// A line search can give up short of the tolerance (a step too
		// small to change the likelihood in floating point); BFGS then
		// restarts from where it got to, with a fresh estimate of the
		// Hessian, while that still improves the fit.
		for range 3 {
			res, err := optimize.Minimize(problem, phi, &optimize.Settings{
				GradientThreshold: tol,
				MajorIterations:   1000,
				Converger:         optimize.NeverTerminate{},
			}, &optimize.BFGS{GradStopThreshold: tol})
			if res == nil {
				return nil, 0, err
			}
			if math.IsInf(res.F, 0) || math.IsNaN(res.F) || res.F >= best {
				break
			}
			phi, best = res.X, res.F
			if res.Status == optimize.GradientThreshold {
				break
			}
		}
		return phi, best, nil
	}
	phi := make([]float64, n)
	for i, s := range start {
		phi[i] = math.Log(s)
	}
	phi, best, err := descend(phi)
	if err != nil {
		return nil, 0, err
	}
	if math.IsInf(best, 0) {
		return nil, 0, errNoFit
	}
	// Towards a cap, the likelihood flattens out and the tolerance stops
	// BFGS somewhere on the way, wherever the gain per step fell below it.
	// A coordinate past snapBelow of its cap (a factor) with the
	// likelihood still rising towards it is put on the cap, φ far past
	// hi where the map is flat to the last bit, and the others
	// re-optimised: kept when the likelihood is no worse (to rounding),
	// so that the fit at the boundary is the same point every time.
	eval(phi)
	onCap := slices.Clone(phi)
	snap := false
	for i, b := range bounds {
		if b.snap && b.log(phi[i]) > b.hi-math.Log(snapBelow) && atG[i] <= 0 {
			onCap[i], snap = b.hi+40, true
		}
	}
	if snap {
		if x, f, err := descend(onCap); err == nil && f <= best+1e-12*math.Abs(best) {
			phi, best = x, f
		}
	}
	out := make([]float64, n)
	for i, v := range phi {
		out[i] = math.Exp(bounds[i].log(v))
	}
	return out, best, nil
}

// chunkRows is how many customers one goroutine sums at a time.
const chunkRows = 4096

// sumChunks calls fn on consecutive ranges of at most chunkRows of [0,
// n), on up to GOMAXPROCS goroutines, each with its own zeroed out of
// length k, and returns the element-wise sums of the outs added in the
// order of the ranges: the result does not depend on the goroutines.
func sumChunks(n, k int, fn func(lo, hi int, out []float64)) []float64 {
	chunks := (n + chunkRows - 1) / chunkRows
	outs := make([]float64, chunks*k)
	run := func(c int) { fn(c*chunkRows, min(n, (c+1)*chunkRows), outs[c*k:(c+1)*k]) }
	if workers := min(runtime.GOMAXPROCS(0), chunks); workers <= 1 {
		for c := range chunks {
			run(c)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for c := int(next.Add(1)) - 1; c < chunks; c = int(next.Add(1)) - 1 {
					run(c)
				}
			})
		}
		wg.Wait()
	}
	total := make([]float64, k)
	for c := range chunks {
		for j := range k {
			total[j] += outs[c*k+j]
		}
	}
	return total
}

// byX orders n customers by their x, for sums over customers that
// compute the terms of x alone once per distinct x: xs are the distinct
// values, ascending; the customers with xs[k] are rows first[k] to
// first[k+1]; row[i] is customer i's row.
type byX struct {
	xs    []float64
	first []int
	row   []int
}

func groupByX(n int, x func(i int) float64) byX {
	count := map[float64]int{}
	for i := range n {
		count[x(i)]++
	}
	g := byX{xs: make([]float64, 0, len(count)), first: make([]int, 0, len(count)+1), row: make([]int, n)}
	for v := range count {
		g.xs = append(g.xs, v)
	}
	slices.Sort(g.xs)
	next := make(map[float64]int, len(count))
	at := 0
	for _, v := range g.xs {
		g.first = append(g.first, at)
		next[v] = at
		at += count[v]
	}
	g.first = append(g.first, at)
	for i := range n {
		v := x(i)
		g.row[i] = next[v]
		next[v]++
	}
	return g
}

// each calls fn for the rows of [lo, hi) by x: k indexes xs, [from, to)
// the rows.
func (g *byX) each(lo, hi int, fn func(k, from, to int)) {
	k := sort.SearchInts(g.first, lo+1) - 1
	for ; lo < hi; k++ {
		to := min(hi, g.first[k+1])
		fn(k, lo, to)
		lo = to
	}
}
