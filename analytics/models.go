package analytics

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
)

// summary is one customer's purchases in the terms of the BG/NBD model
// (Fader, Hardie & Lee 2005): x repeat purchases (purchases after the
// first), tx the time from the first purchase to the last, T the time from
// the first purchase to the end of observation; times in weeks.
type summary struct {
	x, tx, T float64
}

// BGNBD is a fitted BG/NBD model (Fader, Hardie & Lee 2005, "Counting your
// customers the easy way", Marketing Science 24(2)): while alive, a
// customer buys at a rate that is Gamma(R, Alpha) distributed across
// customers (per week); after each purchase the customer drops out with a
// probability that is Beta(A, B) distributed.
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
	// LogLikelihood is the fit's log-likelihood; Customers the customers
	// it was fitted to.
	LogLikelihood float64 `json:"log_likelihood"`
	Customers     int64   `json:"customers"`
}

// GammaGamma is a fitted Gamma-Gamma spend model (Fader, Hardie & Lee
// 2005, "RFM and CLV: using iso-value curves for customer base analysis",
// JMR 42(4)) of one currency: a customer's purchase values are Gamma(P,
// ν) with ν Gamma(Q, Gamma) across customers. It is fitted to the
// customers with repeat purchases, on the mean value of those.
type GammaGamma struct {
	Currency      string  `json:"currency"`
	P             float64 `json:"p"`
	Q             float64 `json:"q"`
	Gamma         float64 `json:"gamma"`
	LogLikelihood float64 `json:"log_likelihood"`
	Customers     int64   `json:"customers"`
	// Correlation is Pearson's correlation of the customers' number of
	// repeat purchases and their mean value: the model assumes the two
	// independent, so a value far from 0 says not to trust it.
	Correlation float64 `json:"correlation"`
}

// errNoFit: the data do not determine a model.
var errNoFit = errors.New("crm: too few purchases to fit a model")

// lbeta is the log of the Beta function.
func lbeta(a, b float64) float64 { return mathext.Lbeta(a, b) }

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
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

// bgnbdLogLikelihood is the log-likelihood of one customer (FHL 2005,
// equation 6), computed in logs:
//
//	L = B(a,b+x)/B(a,b) · Γ(r+x)α^r/(Γ(r)(α+T)^(r+x))
//	  + [x>0] B(a+1,b+x-1)/B(a,b) · Γ(r+x)α^r/(Γ(r)(α+tx)^(r+x))
func bgnbdLogLikelihood(r, alpha, a, b float64, s summary) float64 {
	a1 := lgamma(r+s.x) - lgamma(r) + r*math.Log(alpha)
	lab := lbeta(a, b)
	a2 := lbeta(a, b+s.x) - lab - (r+s.x)*math.Log(alpha+s.T)
	if s.x == 0 {
		return a1 + a2
	}
	a3 := lbeta(a+1, b+s.x-1) - lab - (r+s.x)*math.Log(alpha+s.tx)
	return a1 + logAddExp(a2, a3)
}

// minimise finds the minimum of f over positive parameters by Nelder-Mead
// on their logs, from start, restarting once from the first result (a
// simplex may collapse early on a long valley).
func minimise(f func(p []float64) float64, start []float64) ([]float64, float64, error) {
	obj := func(theta []float64) float64 {
		p := make([]float64, len(theta))
		for i, t := range theta {
			if t > 30 || t < -30 {
				return math.MaxFloat64
			}
			p[i] = math.Exp(t)
		}
		v := f(p)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.MaxFloat64
		}
		return v
	}
	theta := make([]float64, len(start))
	for i, s := range start {
		theta[i] = math.Log(s)
	}
	var best float64
	for range 2 {
		res, err := optimize.Minimize(optimize.Problem{Func: obj}, theta, &optimize.Settings{
			MajorIterations: 4000,
			Converger:       &optimize.FunctionConverge{Absolute: 1e-10, Relative: 1e-12, Iterations: 200},
		}, &optimize.NelderMead{})
		if err != nil && res == nil {
			return nil, 0, err
		}
		theta, best = res.X, res.F
	}
	if best == math.MaxFloat64 {
		return nil, 0, errNoFit
	}
	p := make([]float64, len(theta))
	for i, t := range theta {
		p[i] = math.Exp(t)
	}
	return p, best, nil
}

// fitBGNBD fits the BG/NBD model to ss by maximum likelihood. It needs two
// customers, one of them with a repeat purchase.
func fitBGNBD(ss []summary) (*BGNBD, error) {
	var repeat, sumX, sumT float64
	for _, s := range ss {
		if s.x > 0 {
			repeat++
		}
		sumX += s.x
		sumT += s.T
	}
	if len(ss) < 2 || repeat == 0 || sumT <= 0 {
		return nil, errNoFit
	}
	// Start where the mean rate r/α matches the observed one.
	alpha := math.Max(sumT/sumX, 1e-3)
	g := groupByX(len(ss), func(i int) float64 { return ss[i].x })
	c1, c2, c3 := make([]float64, len(g.xs)), make([]float64, len(g.xs)), make([]float64, len(g.xs))
	nll := func(p []float64) float64 {
		r, alpha, a, b := p[0], p[1], p[2], p[3]
		// The terms that depend on x only, once per distinct x.
		lab, lr, la := lbeta(a, b), lgamma(r), math.Log(alpha)
		for k, x := range g.xs {
			c1[k] = lgamma(r+x) - lr + r*la
			c2[k] = lbeta(a, b+x) - lab
			if x > 0 {
				c3[k] = lbeta(a+1, b+x-1) - lab
			}
		}
		total := 0.0
		for i, s := range ss {
			k := g.of[i]
			a2 := c2[k] - (r+s.x)*math.Log(alpha+s.T)
			if s.x == 0 {
				total += c1[k] + a2
				continue
			}
			total += c1[k] + logAddExp(a2, c3[k]-(r+s.x)*math.Log(alpha+s.tx))
		}
		return -total
	}
	p, f, err := minimise(nll, []float64{1, alpha, 1, 1})
	if err != nil {
		return nil, err
	}
	m := &BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3], LogLikelihood: -f, Customers: int64(len(ss))}
	for _, v := range []float64{m.R, m.Alpha, m.A, m.B, m.LogLikelihood} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errNoFit
		}
	}
	return m, nil
}

// xGroups maps each of n customers to the index of its x among the
// distinct values xs, so that the terms of a log-likelihood that depend
// on x alone are computed once per value.
type xGroups struct {
	xs []float64
	of []int
}

func groupByX(n int, x func(i int) float64) xGroups {
	g := xGroups{of: make([]int, n)}
	idx := map[float64]int{}
	for i := range n {
		v := x(i)
		k, ok := idx[v]
		if !ok {
			k = len(g.xs)
			idx[v] = k
			g.xs = append(g.xs, v)
		}
		g.of[i] = k
	}
	return g
}

// PAlive is the probability that a customer with history s is still alive
// at the end of observation (Fader, Hardie & Lee, "Computing P(alive)
// using the BG/NBD model", equation 5):
//
//	1 / (1 + [x>0] a/(b+x-1) · ((α+T)/(α+tx))^(r+x))
func (m *BGNBD) pAlive(s summary) float64 {
	if s.x == 0 {
		return 1
	}
	lt := math.Log(m.A) - math.Log(m.B+s.x-1) + (m.R+s.x)*(math.Log(m.Alpha+s.T)-math.Log(m.Alpha+s.tx))
	// 1/(1+e^lt), stable for large |lt|.
	if lt > 0 {
		e := math.Exp(-lt)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(lt))
}

// expected is E[Y(t) | x, tx, T], the expected purchases in the next t
// weeks of a customer with history s (FHL 2005, equation 10):
//
//	(a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x-1; z)] · P(alive),
//	z = t/(α+T+t).
//
// Euler's transformation ₂F₁(A,B;C;z) = (1-z)^(C-A-B) ₂F₁(C-A,C-B;C;z)
// turns the bracket into 1 - (1-z)^(a-1) ₂F₁(a+b-1-r, a-1; a+b+x-1; z),
// whose parameters no longer grow with x: no overflow for customers with
// hundreds of purchases. Its series, though, grows like e^((a-1)z) when a
// is huge (a fit to a handful of alike customers, such as the few one
// actor sees), where the original form's series, whose terms shrink by
// about (r+x)(b+x)z/(a+b+x-1), converges at once: of the two equal
// forms, the one whose leading parameters are smaller is evaluated.
func (m *BGNBD) expected(t float64, s summary) float64 {
	if t <= 0 {
		return 0
	}
	a := m.A
	if math.Abs(a-1) < 1e-7 { // removable singularity at a = 1
		a = 1 + 1e-7
	}
	z := t / (m.Alpha + s.T + t)
	c := a + m.B + s.x - 1
	var bracket float64
	if (m.R+s.x)*(m.B+s.x) < (a+m.B-1-m.R)*(a-1) {
		bracket = 1 - math.Pow(1-z, m.R+s.x)*mathext.Hypergeo(m.R+s.x, m.B+s.x, c, z)
	} else {
		bracket = 1 - math.Pow(1-z, a-1)*mathext.Hypergeo(a+m.B-1-m.R, a-1, c, z)
	}
	return (a + m.B + s.x - 1) / (a - 1) * bracket * m.pAlive(s)
}

// spend is one customer's repeat purchases for the Gamma-Gamma model: x
// of them, of mean value mean.
type spend struct {
	x, mean float64
}

// gammaGammaLogLikelihood is the log-likelihood of one customer (FHL 2005
// JMR, as in the lifetimes library):
//
//	lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(γ+xm)
func gammaGammaLogLikelihood(p, q, g float64, s spend) float64 {
	px := p * s.x
	return lgamma(px+q) - lgamma(px) - lgamma(q) + q*math.Log(g) + (px-1)*math.Log(s.mean) + px*math.Log(s.x) - (px+q)*math.Log(g+s.x*s.mean)
}

// fitGammaGamma fits the Gamma-Gamma model to ss (customers with repeat
// purchases of positive mean value). It needs two customers.
func fitGammaGamma(currency string, ss []spend) (*GammaGamma, error) {
	if len(ss) < 2 {
		return nil, errNoFit
	}
	var mean float64
	for _, s := range ss {
		mean += s.mean
	}
	mean /= float64(len(ss))
	g := groupByX(len(ss), func(i int) float64 { return ss[i].x })
	cx := make([]float64, len(g.xs))
	logx, logm := make([]float64, len(ss)), make([]float64, len(ss))
	for i, s := range ss {
		logx[i], logm[i] = math.Log(s.x), math.Log(s.mean)
	}
	nll := func(p []float64) float64 {
		pp, q, gm := p[0], p[1], p[2]
		lq, lg := lgamma(q), math.Log(gm)
		for k, x := range g.xs { // the terms of x alone
			cx[k] = lgamma(pp*x+q) - lgamma(pp*x) - lq + q*lg
		}
		total := 0.0
		for i, s := range ss {
			px := pp * s.x
			total += cx[g.of[i]] + (px-1)*logm[i] + px*logx[i] - (px+q)*math.Log(gm+s.x*s.mean)
		}
		return -total
	}
	p, f, err := minimise(nll, []float64{1, 2, math.Max(mean, 1e-6)})
	if err != nil {
		return nil, err
	}
	m := &GammaGamma{Currency: currency, P: p[0], Q: p[1], Gamma: p[2], LogLikelihood: -f, Customers: int64(len(ss)), Correlation: correlation(ss)}
	for _, v := range []float64{m.P, m.Q, m.Gamma, m.LogLikelihood} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errNoFit
		}
	}
	return m, nil
}

// expectedSpend is the expected mean purchase value of a customer with x
// repeat purchases of mean value mean: the population mean γp/(q-1)
// weighted with the customer's own, (1-w)·γp/(q-1) + w·mean with w =
// px/(px+q-1). ok is false when q ≤ 1 (the population mean is infinite).
func (m *GammaGamma) expectedSpend(x, mean float64) (v float64, ok bool) {
	if m.Q <= 1 {
		return 0, false
	}
	pop := m.Gamma * m.P / (m.Q - 1)
	w := m.P * x / (m.P*x + m.Q - 1)
	return (1-w)*pop + w*mean, true
}

// correlation is Pearson's correlation of x and mean over ss (0 when
// either does not vary).
func correlation(ss []spend) float64 {
	n := float64(len(ss))
	var mx, mm float64
	for _, s := range ss {
		mx += s.x
		mm += s.mean
	}
	mx, mm = mx/n, mm/n
	var cov, vx, vm float64
	for _, s := range ss {
		cov += (s.x - mx) * (s.mean - mm)
		vx += (s.x - mx) * (s.x - mx)
		vm += (s.mean - mm) * (s.mean - mm)
	}
	if vx == 0 || vm == 0 {
		return 0
	}
	return finite(cov / math.Sqrt(vx*vm))
}
