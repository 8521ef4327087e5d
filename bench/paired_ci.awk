# SPDX-License-Identifier: GPL-2.0
# Paired ratios with a bootstrap confidence interval, for runs interleaved in
# repetitions (bench/conn_rate.sh's raw CSV: rep,config,ports,conn_per_s,...).
#
#   awk -F, -v pairs="A,1:B,1 C,1:D,1" [-v boot=10000] [-v seed=1] \
#       -f bench/paired_ci.awk RAW.csv
#
# For each pair "NUM,PORTS:DEN,PORTS": the ratio NUM/DEN within each repetition
# that measured both, their median, and a 95 % percentile bootstrap interval of
# that median (resampling repetitions, boot times). Pairing cancels what a
# repetition shares (the machine's load at the time); resampling whole
# repetitions keeps that. Prints one CSV line a pair:
#   num,num_ports,den,den_ports,n,median,lo,hi,resolved
# resolved is "no" when the interval holds 1.0. A fixed seed: the same data
# gives the same interval.

NR == 1 && $1 == "rep" { next }
{
	v[$2 "," $3, $1] = $4
	if (!($1 in seen)) {
		seen[$1] = 1
		reps[++nrep] = $1
	}
}

# Sort a[1..n] ascending (insertion sort: n is small).
function isort(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}

# Heapsort for the bootstrap medians (boot of them, with many ties, which
# would send a simple quicksort past mawk's recursion limit).
function sift(a, i, n,   c, t) {
	while ((c = 2 * i) <= n) {
		if (c < n && a[c + 1] > a[c])
			c++
		if (a[i] >= a[c])
			return
		t = a[i]; a[i] = a[c]; a[c] = t
		i = c
	}
}

function hsort(a, n,   i, t) {
	for (i = int(n / 2); i >= 1; i--)
		sift(a, i, n)
	for (i = n; i > 1; i--) {
		t = a[1]; a[1] = a[i]; a[i] = t
		sift(a, 1, i - 1)
	}
}

# The k-th smallest of a resample, from its counts c[] over the sorted x[].
function kth(x, c, n, k,   j, cum) {
	cum = 0
	for (j = 1; j <= n; j++) {
		cum += c[j]
		if (cum >= k)
			return x[j]
	}
	return x[n]
}

function median_of(x, c, n) {
	return n % 2 ? kth(x, c, n, (n + 1) / 2) : (kth(x, c, n, n / 2) + kth(x, c, n, n / 2 + 1)) / 2
}

END {
	if (boot == "")
		boot = 10000
	srand(seed == "" ? 1 : seed)
	np = split(pairs, pl, " ")
	for (p = 1; p <= np; p++) {
		split(pl[p], nd, ":")
		n = 0
		delete x
		for (r = 1; r <= nrep; r++) {
			a = v[nd[1], reps[r]]
			b = v[nd[2], reps[r]]
			if (a > 0 && b > 0)
				x[++n] = a / b
		}
		if (n < 2) {
			printf "%s,%s,%d,nan,nan,nan,no\n", nd[1], nd[2], n
			continue
		}
		isort(x, n)
		for (j = 1; j <= n; j++)
			c[j] = 1
		med = median_of(x, c, n)
		for (b = 1; b <= boot; b++) {
			for (j = 1; j <= n; j++)
				c[j] = 0
			for (j = 1; j <= n; j++)
				c[int(rand() * n) + 1]++
			m[b] = median_of(x, c, n)
		}
		hsort(m, boot)
		lo = m[int(0.025 * boot) + 1]
		hi = m[int(0.975 * boot)]
		printf "%s,%s,%d,%.4f,%.4f,%.4f,%s\n", nd[1], nd[2], n, med, lo, hi,
			(lo <= 1 && hi >= 1) ? "no" : "yes"
	}
}
