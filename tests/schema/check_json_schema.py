#!/usr/bin/env python3
"""Checks schema/ptrec-v1.schema.json against the examples and a few invalid documents.

Usage: check_json_schema.py [SOURCE_DIR]   (default: two levels above this file)

Passes (exit 0) when the schema is a valid draft-07 schema, every examples/*.yaml validates,
and every document in INVALID is rejected. Exit 1 on any failure, 2 when a module is missing.
Needs python3-jsonschema and python3-yaml (Debian).
"""

import pathlib
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover
    print(f"check_json_schema: {e}; install python3-jsonschema python3-yaml", file=sys.stderr)
    sys.exit(2)


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML with YAML 1.2 core-schema scalars, as yaml-language-server and ptrec read them.

    PyYAML follows YAML 1.1: `yes` is a bool and `03:00.0` a base-60 float (180.0). Here only
    true/false are booleans, and no sexagesimal numbers exist. Duplicate keys are errors.
    """

    yaml_implicit_resolvers = {}

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _int12(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int12)

HEAD = "apiVersion: ptrec/v1\nkind: HostConfig\n"

# Documents the schema accepts beyond the examples: unquoted and short forms.
VALID = {
    "unquoted BDF and id": HEAD + "hide:\n  - device: 0000:03:00.0\n  - id: 8086:10c9\n",
    "short BDF": HEAD + "sriov:\n  - {device: 03:00.0, numVfs: 0}\n",
    "empty lists": HEAD + "sriov: []\nhide: []\n",
    "kernelArgs and modules, every field": HEAD
    + "kernelArgs:\n"
    + "  bootloader: grub\n"
    + "  present: [intel_iommu=on, iommu=pt, 'opt=\"a b\"', quiet]\n"
    + "  absent: [nomodeset]\n"
    + "modules:\n"
    + "  - name: vfio-pci\n"
    + "    parameters: {ids: \"10de:1b80,10de:10f0\", enable_sriov: true, disable_idle_d3: 1}\n"
    + "    load: true\n"
    + "    softdep: {pre: [kvm], post: []}\n"
    + "    allowReload: false\n",
    "empty kernelArgs and modules": HEAD + "kernelArgs: {}\nmodules: []\n",
}

# Documents the schema must reject, each for one reason.
INVALID = {
    "no apiVersion": "kind: HostConfig\n",
    "wrong apiVersion": "apiVersion: ptrec/v2\nkind: HostConfig\n",
    "wrong kind": "apiVersion: ptrec/v1\nkind: Host\n",
    "unknown top-level key": HEAD + "sriovs: []\n",
    "vms as a mapping": HEAD + "vms: {name: a}\n",
    "vm without name": HEAD + "vms:\n  - {devices: []}\n",
    "vm name with a slash": HEAD + "vms:\n  - {name: a/b}\n",
    "vm uri and qmp": HEAD + "vms:\n  - {name: a, uri: 'qemu:///system', qmp: /run/a.qmp}\n",
    "vm qmp relative": HEAD + "vms:\n  - {name: a, qmp: run/a.qmp}\n",
    "vm hotplug yes": HEAD + "vms:\n  - {name: a, hotplug: yes}\n",
    "vm missing unknown": HEAD + "vms:\n  - {name: a, missing: ignore}\n",
    "vm device without selector": HEAD + "vms:\n  - {name: a, devices: [{managed: true}]}\n",
    "vm device two selectors": HEAD + "vms:\n  - {name: a, devices: [{device: 03:00.0, interface: eno1}]}\n",
    "vm device negative vf": HEAD + "vms:\n  - {name: a, devices: [{interface: eno1, vf: -1}]}\n",
    "vm device bad address": HEAD + "vms:\n  - {name: a, devices: [{device: 03:00.0, address: '07:00'}]}\n",
    "vm device unknown key": HEAD + "vms:\n  - {name: a, devices: [{device: 03:00.0, bus: 7}]}\n",
    "kernelArgs as a list": HEAD + "kernelArgs: [intel_iommu=on]\n",
    "kernelArgs unknown key": HEAD + "kernelArgs: {add: [intel_iommu=on]}\n",
    "unknown bootloader": HEAD + "kernelArgs: {bootloader: lilo}\n",
    "kernel arg with a space": HEAD + "kernelArgs: {present: [\"intel_iommu=on iommu=pt\"]}\n",
    "kernel arg empty key": HEAD + "kernelArgs: {present: [\"=on\"]}\n",
    "kernel arg quote inside value": HEAD + "kernelArgs: {present: ['a=b\"c']}\n",
    "kernel arg double dash": HEAD + "kernelArgs: {present: [\"--\"]}\n",
    "kernel arg not a string": HEAD + "kernelArgs: {present: [3]}\n",
    "absent with a value": HEAD + "kernelArgs: {absent: [quiet=1]}\n",
    "modules is a mapping": HEAD + "modules: {name: igb}\n",
    "module without name": HEAD + "modules:\n  - {load: true}\n",
    "module name with a dot": HEAD + "modules:\n  - {name: vfio.pci}\n",
    "module unknown key": HEAD + "modules:\n  - {name: igb, params: {}}\n",
    "parameter fraction": HEAD + "modules:\n  - {name: igb, parameters: {max_vfs: 1.5}}\n",
    "parameter list": HEAD + "modules:\n  - {name: igb, parameters: {max_vfs: [7, 7]}}\n",
    "parameter with a quote": HEAD + "modules:\n  - {name: igb, parameters: {x: 'a\"b'}}\n",
    "parameter name with a space": HEAD + "modules:\n  - {name: igb, parameters: {\"max vfs\": 7}}\n",
    "load yes": HEAD + "modules:\n  - {name: igb, load: yes}\n",
    "softdep unknown key": HEAD + "modules:\n  - {name: igb, softdep: {before: [vfio-pci]}}\n",
    "softdep bad name": HEAD + "modules:\n  - {name: igb, softdep: {pre: [\"vfio pci\"]}}\n",
    "unknown entry key": HEAD + "sriov:\n  - {device: 03:00.0, numvfs: 4}\n",
    "numVfs as word": HEAD + "sriov:\n  - {device: 03:00.0, numVfs: four}\n",
    "numVfs quoted": HEAD + 'sriov:\n  - {device: 03:00.0, numVfs: "4"}\n',
    "numVfs negative": HEAD + "sriov:\n  - {device: 03:00.0, numVfs: -1}\n",
    "numVfs fraction": HEAD + "sriov:\n  - {device: 03:00.0, numVfs: 1.5}\n",
    "numVfs too big": HEAD + "sriov:\n  - {device: 03:00.0, numVfs: 65536}\n",
    "numVfs missing": HEAD + "sriov:\n  - {device: 03:00.0}\n",
    "force yes": HEAD + "hide:\n  - {device: 03:00.0, force: yes}\n",
    "malformed BDF": HEAD + "hide:\n  - device: 3:00.0\n",
    "BDF device > 1f": HEAD + "hide:\n  - device: 0000:03:20.0\n",
    "BDF function > 7": HEAD + "hide:\n  - device: 0000:03:00.8\n",
    "malformed id": HEAD + "hide:\n  - id: 8086-10c9\n",
    "index without id": HEAD + "hide:\n  - {device: 03:00.0, index: 0}\n",
    "negative index": HEAD + "hide:\n  - {id: 8086:10c9, index: -1}\n",
    "two selectors": HEAD + "hide:\n  - {device: 03:00.0, interface: eno1}\n",
    "no selector": HEAD + "hide:\n  - {driver: vfio-pci}\n",
    "interface too long": HEAD + "hide:\n  - interface: abcdefghijklmnop\n",
    "interface with slash": HEAD + "hide:\n  - interface: a/b\n",
    "interface dot-dot": HEAD + "hide:\n  - interface: ..\n",
    "unknown driver": HEAD + "hide:\n  - {device: 03:00.0, driver: vfio}\n",
    "unknown group": HEAD + "hide:\n  - {device: 03:00.0, group: loose}\n",
    "unknown method": HEAD + "sriov:\n  - {device: 03:00.0, numVfs: 1, method: grub}\n",
    "hide is a mapping": HEAD + "hide:\n  device: 03:00.0\n",
    "label not a string": HEAD + "metadata:\n  labels: {rack: 4}\n",
}


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
    schema = yaml.safe_load((root / "schema" / "ptrec-v1.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    failures = []

    examples = sorted((root / "examples").glob("*.yaml"))
    if not examples:
        failures.append(f"no examples found in {root / 'examples'}")
    cases = [(str(p.relative_to(root)), p.read_text(), True) for p in examples]
    cases += [(name, text, True) for name, text in VALID.items()]
    cases += [(name, text, False) for name, text in INVALID.items()]

    for name, text, should_pass in cases:
        try:
            document = yaml.load(text, Loader=Yaml12Loader)
        except yaml.YAMLError as e:
            failures.append(f"{name}: YAML error: {e}")
            continue
        errors = [e.message for e in validator.iter_errors(document)]
        if should_pass and errors:
            failures.append(f"{name}: rejected: {'; '.join(errors)}")
        elif not should_pass and not errors:
            failures.append(f"{name}: accepted, but should be rejected")

    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print(f"check_json_schema: {len(cases) - len(failures)}/{len(cases)} cases passed "
          f"({len(examples)} examples)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
