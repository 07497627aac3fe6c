module cpc/bench/many-cores/sfs_go

go 1.19
