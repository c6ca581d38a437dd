"""Write the Unity ``.meta`` file of every asset and folder of the package, with stable GUIDs.

A package installed from a git URL is immutable: Unity ignores any asset without a ``.meta``
file there, so the package ships them. GUIDs are derived from the package name and the path,
so running this again changes nothing; the Quick Start scene refers to its script by that GUID.
Folders whose name ends in ``~`` are invisible to Unity and get none, except the contents of
``Samples~/*`` (Unity copies a sample with its ``.meta`` files when it is imported).

    .venv/bin/python "engine_plugins/unity/Tools~/make_meta_files.py" [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_NAME = "com.machinima-bridge.unity"

_TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n  executionOrder: 0\n"
           "  icon: {instanceID: 0}\n" + _TAIL,
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + _TAIL,
    ".shader": "ShaderImporter:\n  externalObjects: {}\n  defaultTextures: []\n  nonModifiableTextures: []\n" + _TAIL,
    ".md": "TextScriptImporter:\n  externalObjects: {}\n" + _TAIL,
    ".unity": "DefaultImporter:\n  externalObjects: {}\n" + _TAIL,
}


def guid_for(relative: str) -> str:
    """The stable GUID of a package path (POSIX separators, relative to the package folder)."""
    return hashlib.md5(f"{PACKAGE_NAME}/{relative}".encode("utf-8")).hexdigest()


def meta_text(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR).as_posix()
    head = f"fileFormatVersion: 2\nguid: {guid_for(relative)}\n"
    if path.is_dir():
        return head + "folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n" + _TAIL
    if path.name == "package.json":
        return head + "PackageManifestImporter:\n  externalObjects: {}\n" + _TAIL
    importer = _IMPORTERS.get(path.suffix)
    if importer is None:
        raise ValueError(f"no importer known for {relative}; add one to make_meta_files.py")
    return head + importer


def assets() -> list[Path]:
    """Every file and folder Unity imports (sample contents included), in a stable order."""
    found: list[Path] = []

    def walk(folder: Path, inside_sample: bool) -> None:
        for child in sorted(folder.iterdir()):
            if child.name.startswith(".") or child.suffix == ".meta":
                continue
            hidden = child.name.endswith("~")
            if child.is_dir():
                if hidden:
                    if child.name == "Samples~" and folder == PACKAGE_DIR:
                        for sample in sorted(p for p in child.iterdir() if p.is_dir()):
                            found.append(sample)
                            walk(sample, True)
                    continue
                found.append(child)
                walk(child, inside_sample)
            elif not hidden:
                found.append(child)

    walk(PACKAGE_DIR, False)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report missing or different .meta files")
    args = parser.parse_args()
    stale = []
    for path in assets():
        meta = path.with_name(path.name + ".meta")
        text = meta_text(path)
        if meta.exists() and meta.read_text(encoding="utf-8") == text:
            continue
        stale.append(meta)
        if not args.check:
            meta.write_text(text, encoding="utf-8")
    for meta in stale:
        print(("stale: " if args.check else "wrote: ") + str(meta.relative_to(PACKAGE_DIR)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
