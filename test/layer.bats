#!/usr/bin/env bats
# layer.bats - `make layer`: a zip with bin/xray-seg that runs on
# provided.al2023 as it is: glibc symbols no newer than 2.34, json-c inside,
# libcurl not linked (loaded only by the api transport), executable, working.

load test_helper
bats_require_minimum_version 1.5.0

setup_file() {
	xs_setup_file --no-binary
	export LAYER=$BATS_FILE_TMPDIR/layer LAYER_ZIP=$BATS_FILE_TMPDIR/layer.zip
	# The layer is built as a user builds it, not with the settings of a
	# make that runs this suite (make asan passes its CFLAGS down).
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u LDFLAGS make -s -C "$XS_ROOT" layer LAYER_DIR="$LAYER" LAYER_ZIP="$LAYER_ZIP" \
		>"$BATS_FILE_TMPDIR/make.log" 2>&1 ||
		xs_die "make layer failed: $(tail -20 "$BATS_FILE_TMPDIR/make.log")"
	mkdir "$BATS_FILE_TMPDIR/unzipped"
	(cd "$BATS_FILE_TMPDIR/unzipped" && unzip -q "$LAYER_ZIP")
	export LAYER_BIN=$BATS_FILE_TMPDIR/unzipped/bin/xray-seg
}

@test "the zip holds bin/xray-seg, executable, and nothing else" {
	run -0 bash -c "unzip -Z1 '$LAYER_ZIP' | grep -v '/\$'"
	assert_output bin/xray-seg
	[ -x "$LAYER_BIN" ]
	run -0 "$LAYER_BIN" --version
	assert_output --regexp '^xray-seg [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "make layer reports the zip's size" {
	run -0 grep -E "layer: .*, $(wc -c <"$LAYER_ZIP") bytes" "$BATS_FILE_TMPDIR/make.log"
}

@test "no glibc symbol newer than provided.al2023's 2.34" {
	local v newest=0
	for v in $(objdump -T "$LAYER_BIN" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -u); do
		[ "$(printf '%s\n%s\n' "$v" "$newest" | sort -V | tail -1)" = "$v" ] && newest=$v
	done
	[ "$newest" != 0 ] || xs_die "no GLIBC symbol versions found: is it dynamic?"
	[ "$(printf '%s\n2.34\n' "$newest" | sort -V | tail -1)" = 2.34 ] ||
		xs_die "needs glibc $newest"
}

@test "only glibc is linked: json-c is inside, libcurl is not linked" {
	run -0 bash -c "readelf -d '$LAYER_BIN' | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'"
	local lib
	for lib in "${lines[@]}"; do
		[[ $lib == libc.so.6 || $lib == ld-linux*.so.* ]] || xs_die "needs $lib"
	done
}

@test "the layer's binary records and sends like the default build" {
	lambda_ctx
	run -0 --separate-stderr "$LAYER_BIN" exec --name from-layer -- true
	assert_stderr_empty
	wait_docs 1
	assert_doc from-layer .parent_id "$PARENT"
}
