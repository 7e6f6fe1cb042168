#!/bin/bash
# mkdir -p the same N fresh directories from two mounts at once
root1=$1 root2=$2 n=$3 tag=$4
( for i in $(seq 1 $n); do mkdir -p $root1/race-$tag/d$i/e$i 2>/dev/null; done ) &
( for i in $(seq 1 $n); do mkdir -p $root2/race-$tag/d$i/e$i 2>/dev/null; done ) &
wait
