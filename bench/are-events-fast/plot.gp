# The two figures of "Are events fast?" from are-events-fast.csv.
# Called by report.py: gnuplot -e "csv='...'; servers='a b/epoll c'; outdir='...';
# backend_col=N" plot.gp. Columns: 1 server, 2 load, 4 mean_ms, 6 measured_load, N backend
# (0 or absent: a CSV from before the backend column). A line is a server on one backend,
# titled "server/backend" (as report.py's label), or "server" for those without a backend.
set datafile separator ","
set terminal pngcairo size 1100,750 font ",11" noenhanced
if (!exists("backend_col")) backend_col = 0
label_of_row(dummy) = (backend_col > 0 && strcol(backend_col) ne "") ? \
    strcol(1)."/".strcol(backend_col) : strcol(1)
set key outside right top
set grid
set style data linespoints
set logscale xy
set xlabel "offered load (simultaneous clients)"
# Fifteen distinguishable colours, one per server and backend.
array colours[15] = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", \
                     "#f781bf", "#000000", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#999999", \
                     "#e6ab02", "#17becf"]
do for [i = 1:15] { set linetype i lc rgb colours[i] lw 1.5 pt (i % 7 + 1) }

set output outdir."/are-events-fast-service-time.png"
set title "Mean service time against offered load (log-log: a lower line is a smaller slope, a faster server)"
set ylabel "mean service time (ms)"
plot for [i = 1:words(servers)] csv every ::1 \
     using 2:(label_of_row(0) eq word(servers, i) ? $4 : NaN) title word(servers, i) lt i

set output outdir."/are-events-fast-measured-load.png"
set title "Measured load l_m = n t_r / t against offered load"
set ylabel "measured load"
plot x title "ideal (l_m = l)" with lines lc rgb "#bbbbbb" dt 2, \
     for [i = 1:words(servers)] csv every ::1 \
     using 2:(label_of_row(0) eq word(servers, i) ? $6 : NaN) title word(servers, i) lt i
