package analytics

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mathext"
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
// probability that is Beta(A, B) distributed. When the customers' data
// are likeliest without spread in the rate or in the dropout probability
// (a boundary of the model), the fit ends with R, or A+B, at 1e8, the
// mean rate R/Alpha and the mean probability A/(A+B) at their
// estimates: the spread is then negligible, and predictions equal the
// limit's.
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
// customers with repeat purchases, on the mean value of those. Without
// spread in the customers' mean values, the fit ends with Q at 1e8 (and
// Gamma in proportion), as BGNBD's does.
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

// The fits maximise the likelihood by BFGS, a quasi-Newton method, from
// the analytic gradient, over the logs of coordinates chosen so that the
// likelihood's valleys run along axes (see bgnbdFromCoordinates and
// spendFromCoordinates). One evaluation of the log-likelihood and its
// gradient is one pass over the customers, ordered by x so that the
// terms of x alone are computed once per distinct x, and split across
// the processors (sumChunks).

// bgnbdData are the summaries of fitBGNBD ordered by x, in columns.
type bgnbdData struct {
	byX
	T, tx []float64
	terms []bgnbdTerms
}

// bgnbdTerms are the terms of one x in the log-likelihood and its
// gradient at the current parameters.
type bgnbdTerms struct {
	ll, gr, gab, gb, d0, invB float64
}

func newBGNBDData(ss []summary) *bgnbdData {
	d := &bgnbdData{byX: groupByX(len(ss), func(i int) float64 { return ss[i].x }), T: make([]float64, len(ss)), tx: make([]float64, len(ss))}
	for i, s := range ss {
		d.T[d.row[i]], d.tx[d.row[i]] = s.T, s.tx
	}
	d.terms = make([]bgnbdTerms, len(d.xs))
	return d
}

// negLogLikelihood is the objective of fitBGNBD. Per customer (FHL 2005,
// equation 6, in logs, with B the Beta function and δ = ln(1/P(alive) -
// 1) as in pAlive):
//
//	ℓ = lnΓ(r+x) - lnΓ(r) + r ln α + ln B(a,b+x) - ln B(a,b) - (r+x) ln(α+T) + [x>0] ln(1+e^δ),
//	δ = ln a - ln(b+x-1) + (r+x) (ln(α+T) - ln(α+tx)).
//
// With w = [x>0] e^δ/(1+e^δ) = 1 - P(alive) and ψ the digamma function,
// its derivatives are
//
//	∂ℓ/∂r = ψ(r+x) - ψ(r) + ln α - ln(α+T) + w (ln(α+T) - ln(α+tx))
//	∂ℓ/∂α = r/α - (r+x) ((1-w)/(α+T) + w/(α+tx))
//	∂ℓ/∂a = ψ(a+b) - ψ(a+b+x) + w/a
//	∂ℓ/∂b = ψ(a+b) - ψ(a+b+x) - ψ(b) + ψ(b+x) - w/(b+x-1)
//
// It computes them in forms that keep their digits when the parameters
// are large (towards maxShape): ln Γ and ψ by differences (lgammaDiff,
// digammaDiff), r ln α - (r+x) ln(α+T) as -x ln α - (r+x) ln(1+T/α), and
// α ∂ℓ/∂α as -x + (r+x) ((1-w) T/(α+T) + w tx/(α+tx)).
func (d *bgnbdData) negLogLikelihood(p, grad []float64) float64 {
	r, alpha, a, b := p[0], p[1], p[2], p[3]
	la, inv := math.Log(alpha), 1/alpha
	for k, x := range d.xs {
		t := &d.terms[k]
		t.ll = lgammaDiff(r, x) - x*la + lgammaDiff(b, x) - lgammaDiff(a+b, x)
		t.gr = digammaDiff(r, x)
		t.gab = -digammaDiff(a+b, x)
		t.gb = t.gab + digammaDiff(b, x)
		if x > 0 {
			t.d0, t.invB = math.Log(a)-math.Log(b+x-1), 1/(b+x-1)
		}
	}
	s := sumChunks(len(d.T), 5, func(lo, hi int, out []float64) {
		d.each(lo, hi, func(k, from, to int) {
			x, t := d.xs[k], &d.terms[k]
			rx, n := r+x, float64(to-from)
			// Sums over the rows of ln(1+T/α), ln(1+e^δ), w (ln(1+T/α) -
			// ln(1+tx/α)), (1-w) T/(α+T) + w tx/(α+tx) and w.
			var sLT, sSp, sWD, sQ, sW float64
			if x == 0 {
				for _, T := range d.T[from:to] {
					u := T * inv
					sLT += math.Log1p(u)
					sQ += u / (1 + u)
				}
			} else {
				tx := d.tx[from:to]
				for i, T := range d.T[from:to] {
					u, v := T*inv, tx[i]*inv
					lT, ltx := math.Log1p(u), math.Log1p(v)
					delta := t.d0 + rx*(lT-ltx)
					e := math.Exp(-math.Abs(delta))
					sp, w := math.Log1p(e), e/(1+e)
					if delta > 0 {
						sp, w = sp+delta, 1/(1+e)
					}
					sLT += lT
					sSp += sp
					sWD += w * (lT - ltx)
					sQ += (1-w)*u/(1+u) + w*v/(1+v)
					sW += w
				}
			}
			out[0] += n*t.ll - rx*sLT + sSp
			// The gradient with respect to the logs: ∂ℓ/∂ln r = r ∂ℓ/∂r …
			out[1] += r * (n*t.gr - sLT + sWD)
			out[2] += rx*sQ - n*x
			out[3] += a*n*t.gab + sW
			out[4] += b * (n*t.gb - sW*t.invB)
		})
	})
	n := float64(len(d.T))
	for j := range grad {
		grad[j] = -s[j+1] / n
	}
	return -s[0] / n
}

// The optimiser's coordinates for BG/NBD are r, the mean purchase rate
// r/α, the odds a/b of the mean dropout probability, and a+b: the
// likelihood's valleys towards the boundaries (r → ∞ with r/α at its
// estimate, a+b → ∞ with a/b at its) run along axes, and BFGS follows
// them in a few steps (it zigzagged across them for hundreds of steps
// in ln a and ln b). bgnbdFromCoordinates turns them into r, α, a, b.
func bgnbdFromCoordinates(c []float64) []float64 {
	mu := c[2] / (1 + c[2]) // a/(a+b)
	return []float64{c[0], c[0] / c[1], c[3] * mu, c[3] * (1 - mu)}
}

// inCoordinates is negLogLikelihood in the optimiser's coordinates, its
// gradient with respect to their logs by the chain rule: ln α = ln r -
// ln(r/α), ln a = ln(a+b) + ln μ, ln b = ln(a+b) + ln(1-μ), μ = a/(a+b)
// = odds/(1+odds).
func (d *bgnbdData) inCoordinates(c, grad []float64) float64 {
	var p, g [4]float64
	copy(p[:], bgnbdFromCoordinates(c))
	f := d.negLogLikelihood(p[:], g[:])
	mu := c[2] / (1 + c[2])
	grad[0] = g[0] + g[1]
	grad[1] = -g[1]
	grad[2] = (1-mu)*g[2] - mu*g[3]
	grad[3] = g[2] + g[3]
	return f
}

// fitBGNBD fits the BG/NBD model to ss by maximum likelihood. It needs two
// customers, one of them with a repeat purchase. When no spread in the
// purchase rates or in the dropout probabilities is the likeliest, the
// estimates are on a boundary (see maxShape): r (with r/α, the mean
// rate, at its estimate) or a+b (with a/(a+b), the mean dropout
// probability, at its) end on maxShape.
func fitBGNBD(ss []summary) (*BGNBD, error) { return fitBGNBDWithin(ss, fitTolerance) }

// fitBGNBDWithin is fitBGNBD with the optimiser's tolerance tol.
func fitBGNBDWithin(ss []summary, tol float64) (*BGNBD, error) {
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
	d := newBGNBDData(ss)
	c, f, err := minimise(d.inCoordinates, []float64{1, 1 / alpha, 1, 2}, []bound{shapeBound, scaleBound, scaleBound, shapeBound}, tol)
	if err != nil {
		return nil, err
	}
	p := bgnbdFromCoordinates(c)
	m := &BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3], LogLikelihood: -f * float64(len(ss)), Customers: int64(len(ss))}
	for _, v := range []float64{m.R, m.Alpha, m.A, m.B, m.LogLikelihood} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errNoFit
		}
	}
	return m, nil
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

// spendData are the spends of fitGammaGamma ordered by x, in columns:
// x·mean, and the running sum of ln mean.
type spendData struct {
	byX
	xm, cumLogMean []float64
	terms          []spendTerms
}

// spendTerms are the terms of one x in the log-likelihood and its
// gradient at the current parameters.
type spendTerms struct{ ll, gp, gq float64 }

func newSpendData(ss []spend) *spendData {
	d := &spendData{byX: groupByX(len(ss), func(i int) float64 { return ss[i].x }), xm: make([]float64, len(ss)), cumLogMean: make([]float64, len(ss)+1)}
	logMean := make([]float64, len(ss))
	for i, s := range ss {
		d.xm[d.row[i]], logMean[d.row[i]] = s.x*s.mean, math.Log(s.mean)
	}
	for i, v := range logMean {
		d.cumLogMean[i+1] = d.cumLogMean[i] + v
	}
	d.terms = make([]spendTerms, len(d.xs))
	return d
}

// negLogLikelihood is the objective of fitGammaGamma. Per customer (see
// gammaGammaLogLikelihood), with m the mean and ψ the digamma function:
//
//	∂ℓ/∂p = x (ψ(px+q) - ψ(px) + ln m + ln x - ln(γ+xm))
//	∂ℓ/∂q = ψ(px+q) - ψ(q) + ln γ - ln(γ+xm)
//	∂ℓ/∂γ = q/γ - (px+q)/(γ+xm)
//
// As in BG/NBD's, in forms that keep their digits for large q and γ: q ln
// γ - (px+q) ln(γ+xm) as -px ln γ - (px+q) ln(1+xm/γ), γ ∂ℓ/∂γ as -px +
// (px+q) (xm/γ)/(1+xm/γ).
func (d *spendData) negLogLikelihood(p, grad []float64) float64 {
	pp, q, g := p[0], p[1], p[2]
	lg, inv := math.Log(g), 1/g
	for k, x := range d.xs {
		px := pp * x
		d.terms[k] = spendTerms{
			ll: lgammaDiff(q, px) - lgamma(px) + px*(math.Log(x)-lg),
			gp: mathext.Digamma(px+q) - mathext.Digamma(px) + math.Log(x) - lg,
			gq: digammaDiff(q, px),
		}
	}
	s := sumChunks(len(d.xm), 4, func(lo, hi int, out []float64) {
		d.each(lo, hi, func(k, from, to int) {
			x, t := d.xs[k], &d.terms[k]
			px, n := pp*x, float64(to-from)
			var sL, sQ float64 // sums of ln(1+xm/γ) and (xm/γ)/(1+xm/γ)
			for _, xm := range d.xm[from:to] {
				u := xm * inv
				sL += math.Log1p(u)
				sQ += u / (1 + u)
			}
			sLM := d.cumLogMean[to] - d.cumLogMean[from]
			out[0] += n*t.ll + (px-1)*sLM - (px+q)*sL
			// The gradient with respect to the logs.
			out[1] += px * (n*t.gp + sLM - sL)
			out[2] += q * (n*t.gq - sL)
			out[3] += (px+q)*sQ - n*px
		})
	})
	n := float64(len(d.xm))
	for j := range grad {
		grad[j] = -s[j+1] / n
	}
	return -s[0] / n
}

// The optimiser's coordinates for Gamma-Gamma are p, q and pγ/q (about
// the population's mean value, γp/(q-1)): the valleys towards the
// boundaries (q → ∞ or p → ∞, with the mean at its estimate) run along
// axes, as in BG/NBD's. spendFromCoordinates turns them into p, q, γ.
func spendFromCoordinates(c []float64) []float64 {
	return []float64{c[0], c[1], c[2] * c[1] / c[0]}
}

// inCoordinates is negLogLikelihood in the optimiser's coordinates, its
// gradient with respect to their logs by the chain rule: ln γ = ln(pγ/q)
// + ln q - ln p.
func (d *spendData) inCoordinates(c, grad []float64) float64 {
	var p, g [3]float64
	copy(p[:], spendFromCoordinates(c))
	f := d.negLogLikelihood(p[:], g[:])
	grad[0] = g[0] - g[2]
	grad[1] = g[1] + g[2]
	grad[2] = g[2]
	return f
}

// fitGammaGamma fits the Gamma-Gamma model to ss (customers with repeat
// purchases of positive mean value). It needs two customers. When no
// spread in the customers' mean values is the likeliest, the estimates
// are on a boundary (see maxShape): q (with pγ/q at its estimate) ends
// on maxShape, and expectedSpend is then the population's mean; when no
// spread in a customer's purchase values is, p does.
func fitGammaGamma(currency string, ss []spend) (*GammaGamma, error) {
	return fitGammaGammaWithin(currency, ss, fitTolerance)
}

// fitGammaGammaWithin is fitGammaGamma with the optimiser's tolerance tol.
func fitGammaGammaWithin(currency string, ss []spend, tol float64) (*GammaGamma, error) {
	if len(ss) < 2 {
		return nil, errNoFit
	}
	var mean float64
	for _, s := range ss {
		mean += s.mean
	}
	mean /= float64(len(ss))
	d := newSpendData(ss)
	// Start at p = 1, q = 2, and γ where the population's mean value
	// γp/(q-1) is the observed one.
	c, f, err := minimise(d.inCoordinates, []float64{1, 2, math.Max(mean, 1e-6) / 2}, []bound{shapeBound, shapeBound, scaleBound}, tol)
	if err != nil {
		return nil, err
	}
	p := spendFromCoordinates(c)
	m := &GammaGamma{Currency: currency, P: p[0], Q: p[1], Gamma: p[2], LogLikelihood: -f * float64(len(ss)), Customers: int64(len(ss)), Correlation: correlation(ss)}
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
