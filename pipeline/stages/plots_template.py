"""Stage ``plots_template``: the page ``dvc plots show`` fills in, with Vega's JavaScript inside.

DVC's own page loads vega, vega-lite and vega-embed from a CDN when it is opened, so with no
internet it stays blank. This stage fetches those three packages once, at build time, from the
npm registry with ``npm pack`` (pinned versions, their sha512 checked), and writes their
minified builds inline into ``vendor/plots_template.html``. That file is committed (a DVC output
kept out of DVC's cache, ``persist``ed), so ``dvc plots show`` works offline on a fresh clone.
``.dvc/config`` sets ``plots.html_template`` to it, and the page ``dvc plots show`` writes then
renders offline. The template has no ``{scripts}`` placeholder, which is where DVC
would put its CDN ``<script src=...>`` tags.
"""

import base64
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.cli import run_stage
from pipeline.errors import PipelineError
from pipeline.io import write_text

TEMPLATE = Path("vendor/plots_template.html")
# DVC fills these in; the inlined JavaScript must not contain them.
PLACEHOLDERS = ("{plot_divs}", "{refresh_tag}", "{scripts}")


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str  # the majors DVC's specs are written for: vega 5, vega-lite 5, vega-embed 6
    integrity: str  # sha512 of the tarball, as npm's lock files record it
    script: str  # the browser build inside the tarball

    @property
    def tarball(self) -> str:
        return f"{self.name}-{self.version}.tgz"


PACKAGES = (
    NpmPackage(
        "vega",
        "5.33.1",
        "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
        "package/build/vega.min.js",
    ),
    NpmPackage(
        "vega-lite",
        "5.23.0",
        "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
        "package/build/vega-lite.min.js",
    ),
    NpmPackage(
        "vega-embed",
        "6.29.0",
        "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
        "package/build/vega-embed.min.js",
    ),
)

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots</title>
{inline_scripts}
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
        img {{ max-width: 100%; }}
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


NO_NPM_NOTE = """    <!-- built without npm: no Vega scripts, so only the PNG figures render -->"""


class NpmUnavailable(PipelineError):
    """npm is missing or could not fetch the packages."""


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def npm_pack(packages: tuple[NpmPackage, ...], folder: Path) -> None:
    """Download the packages' tarballs into ``folder`` with npm (its configured registry)."""
    specs = [f"{p.name}@{p.version}" for p in packages]
    env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    try:
        result = subprocess.run(
            ["npm", "pack", *specs, "--pack-destination", str(folder), "--silent"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise NpmUnavailable(
            "npm not found: the offline plots page needs Node.js's npm to fetch vega "
            "(Debian: apt-get install npm)"
        ) from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise NpmUnavailable(f"npm pack {' '.join(specs)} failed: {' / '.join(message)}")


def read_script(tarball: Path, package: NpmPackage) -> str:
    """The package's browser build, after checking the tarball's sha512."""
    data = tarball.read_bytes()
    if integrity(data) != package.integrity:
        raise PipelineError(
            f"{package.name}@{package.version}: the tarball's sha512 is {integrity(data)}, "
            f"expected {package.integrity}"
        )
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(package.script)
        if member is None:
            raise PipelineError(f"{tarball.name}: no {package.script} inside")
        script = member.read().decode("utf-8")
    # Inside <script>, "</script" would end the element early; "<\/script" is the same string.
    script = script.replace("</script", "<\\/script")
    for placeholder in PLACEHOLDERS:
        if placeholder in script:
            raise PipelineError(f"{package.script} contains DVC's placeholder {placeholder}")
    return script


def inline_banner(package: NpmPackage) -> str:
    return f"/* {package.name} {package.version}, inlined by pipeline/stages/plots_template.py */"


def is_complete(page: str) -> bool:
    """Whether ``page`` already has every pinned package inline (as the committed one has)."""
    return all(inline_banner(package) in page for package in PACKAGES)


def page_template(scripts: dict[NpmPackage, str]) -> str:
    """The page with each script inline, in order (vega-embed needs vega and vega-lite)."""
    inline = "\n".join(
        f"    <script>{inline_banner(p)}\n{script}\n    </script>" for p, script in scripts.items()
    )
    return PAGE.format(refresh_tag="{refresh_tag}", plot_divs="{plot_divs}", inline_scripts=inline)


def build(output: str | Path = TEMPLATE, require_vega: bool = False) -> Path:
    """Fetch the packages and write the template to ``output``.

    Without npm (a machine with only Python), a complete page already at ``output`` (the
    committed one) is kept; otherwise the page is written without the Vega scripts, with a
    warning: the PNG figures (curves, confusion matrix, mistakes) still render, and the pipeline
    does not fail over a nicety. ``require_vega`` makes that an error instead (the tests).
    """
    with tempfile.TemporaryDirectory(prefix="vega-") as tmp:
        folder = Path(tmp)
        try:
            npm_pack(PACKAGES, folder)
        except NpmUnavailable as error:
            if require_vega:
                raise
            if Path(output).is_file() and is_complete(Path(output).read_text()):
                print(f"warning: {error}; keeping {output}, which has Vega inline", file=sys.stderr)
                return Path(output)
            print(
                f"warning: {error}; the plots page will show the PNG figures only", file=sys.stderr
            )
            page = PAGE.format(
                refresh_tag="{refresh_tag}", plot_divs="{plot_divs}", inline_scripts=NO_NPM_NOTE
            )
            write_text(output, page)
            return Path(output)
        scripts = {p: read_script(folder / p.tarball, p) for p in PACKAGES}
    write_text(output, page_template(scripts))
    return Path(output)


def main() -> None:
    started = time.perf_counter()
    output = build(sys.argv[1] if len(sys.argv) > 1 else TEMPLATE)
    if NO_NPM_NOTE in output.read_text():
        print(f"plots_template: {output} without Vega (no npm)")
        return
    versions = ", ".join(f"{p.name} {p.version}" for p in PACKAGES)
    size = output.stat().st_size / 1e6
    print(
        f"plots_template: {versions} inlined -> {output} ({size:.1f} MB) "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main)
