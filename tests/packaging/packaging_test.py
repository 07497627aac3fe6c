#!/usr/bin/env python3
"""cpc as its users get it: installed into a prefix, or from the Debian packages.

    packaging_test.py consumer --source-dir S --build-dir B --work W --cxx CXX --version V
        Installs the library (component dev) of build tree B into a temporary prefix, builds
        tests/consumer against it with find_package(cpc), and again with a plain compiler
        command line from `pkg-config --cflags --libs cpc`, and runs both programs.
    packaging_test.py deb --build-dir B --work W --version V
        Makes the three .deb files of `make package` from build tree B, unpacks them into a
        scratch root with dpkg-deb -x, checks what each holds and runs the servers'
        --version from there.

Both read the build tree and write only under W, which is emptied first.
"""
import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path


def fail(why):
    print(f"FAIL: {why}", flush=True)
    sys.exit(1)


def expect(cond, why):
    if not cond:
        fail(why)


def run(argv, env=None, timeout=300):
    print("$", " ".join(str(a) for a in argv), flush=True)
    p = subprocess.run([str(a) for a in argv], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        print(p.stdout[-8000:])
        fail(f"{argv[0]} exited with status {p.returncode}")
    return p.stdout


def fresh(directory):
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def check_consumer_output(binary, version, how):
    out = run([binary], timeout=30).strip()
    print(out)
    expected = f"consumer: cpc {version}, 3 threads finished: 1 2 3"
    expect(out == expected, f"{how}: the consumer printed {out!r}, not {expected!r}")


def consumer(args):
    work = fresh(Path(args.work))
    prefix = work / "prefix"
    run(["cmake", "--install", args.build_dir, "--prefix", prefix, "--component", "dev"])
    for f in ["include/cpc/cpc.hpp", "include/cpc/version.hpp", "lib/libcpc.a",
              "lib/cmake/cpc/cpcConfig.cmake", "lib/cmake/cpc/cpcConfigVersion.cmake",
              "lib/pkgconfig/cpc.pc"]:
        expect((prefix / f).is_file(), f"the install has no {f}")

    # The program sees the installed prefix only: no path into the source or build tree.
    env = dict(os.environ)
    for key in ("CPATH", "CPLUS_INCLUDE_PATH", "LIBRARY_PATH", "CMAKE_PREFIX_PATH",
                "PKG_CONFIG_PATH", "MAKEFLAGS"):
        env.pop(key, None)

    source = Path(args.source_dir) / "tests" / "consumer"
    build = work / "cmake-build"
    run(["cmake", "-S", source, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         f"-DCMAKE_CXX_COMPILER={args.cxx}", f"-DCMAKE_PREFIX_PATH={prefix}"], env=env)
    run(["cmake", "--build", build], env=env)
    check_consumer_output(build / "consumer", args.version, "find_package(cpc)")

    env["PKG_CONFIG_PATH"] = str(prefix / "lib" / "pkgconfig")
    modversion = run(["pkg-config", "--modversion", "cpc"], env=env).strip()
    expect(modversion == args.version, f"pkg-config says cpc {modversion}, not {args.version}")
    flags = run(["pkg-config", "--cflags", "--libs", "cpc"], env=env).split()
    print("pkg-config --cflags --libs cpc:", " ".join(flags))
    expect(f"-I{prefix}/include" in [os.path.normpath(f) if f.startswith("-I") else f
                                     for f in flags],
           "cpc.pc does not point into the prefix it was installed in")
    binary = work / "pkg-config-consumer"
    run([args.cxx, "-O2", source / "main.cpp", "-o", binary, *flags], env=env)
    check_consumer_output(binary, args.version, "pkg-config")
    print("PASS")


def deb(args):
    work = fresh(Path(args.work))
    packages = work / "packages"
    run(["cpack", "--config", Path(args.build_dir) / "CPackConfig.cmake", "-B", packages])
    arch = run(["dpkg", "--print-architecture"]).strip()
    root = work / "root"
    contents = {}
    for name in ("libcpc-dev", "hekate", "cpc-httpd"):
        deb_file = packages / f"{name}_{args.version}_{arch}.deb"
        expect(deb_file.is_file(), f"cpack made no {deb_file.name}: "
               + ", ".join(sorted(p.name for p in packages.glob("*.deb"))))
        field = run(["dpkg-deb", "--field", deb_file, "Package", "Version"])
        expect(f"Package: {name}" in field and f"Version: {args.version}" in field,
               f"{deb_file.name} says: {field!r}")
        contents[name] = run(["dpkg-deb", "--contents", deb_file])
        run(["dpkg-deb", "-x", deb_file, root])

    def holds(package, path):
        expect(f" ./{path}" in contents[package] or contents[package].endswith(f"./{path}"),
               f"{package} has no /{path}")

    for path in ["usr/include/cpc/cpc.hpp", "usr/include/cpc/version.hpp", "usr/lib/libcpc.a",
                 "usr/lib/cmake/cpc/cpcConfig.cmake", "usr/lib/pkgconfig/cpc.pc"]:
        holds("libcpc-dev", path)
    for package, binary in (("hekate", "hekate"), ("cpc-httpd", "httpd")):
        holds(package, f"usr/bin/{binary}")
        holds(package, f"usr/share/man/man1/{binary}.1")
        holds(package, f"usr/share/doc/{package}/README.md")
    # The servers' Depends come from dpkg-shlibdeps: hekate links libcurl, for one. The
    # library's names what libcpc.a needs at link time.
    def field(package, name):
        return run(["dpkg-deb", "--field", packages / f"{package}_{args.version}_{arch}.deb",
                    name]).strip()
    expect("libcurl" in field("hekate", "Depends"), "hekate's Depends lack libcurl")
    expect("liburing-dev" in field("libcpc-dev", "Depends"), "libcpc-dev does not need liburing-dev")
    for name in contents:
        synopsis = field(name, "Description").splitlines()[0]
        expect(synopsis and ";" not in synopsis, f"{name}'s synopsis is {synopsis!r}")

    # cpc.pc from the package finds its headers inside the scratch root.
    env = dict(os.environ, PKG_CONFIG_PATH=str(root / "usr/lib/pkgconfig"))
    includedir = Path(run(["pkg-config", "--variable=includedir", "cpc"], env=env).strip())
    expect((includedir / "cpc" / "version.hpp").resolve().is_relative_to(root.resolve()),
           f"the packaged cpc.pc points to {includedir}, outside the package")

    for binary, expected in (("hekate", f"hekate {args.version}"),
                             ("httpd", f"httpd (cpc) {args.version}")):
        out = run([root / "usr" / "bin" / binary, "--version"], timeout=30).strip()
        print(out)
        expect(out == expected, f"{binary} --version printed {out!r}, not {expected!r}")
    page = (root / "usr/share/man/man1/hekate.1").read_text()
    expect(args.version in page, "hekate's man page does not carry the version")
    print("PASS")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("check", choices=["consumer", "deb"])
    parser.add_argument("--source-dir")
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--cxx")
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    consumer(args) if args.check == "consumer" else deb(args)


if __name__ == "__main__":
    main()
