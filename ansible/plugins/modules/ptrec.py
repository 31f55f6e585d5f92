#!/usr/bin/python
# -*- coding: utf-8 -*-
#
# Ansible module for ptrec, declarative PCI passthrough for KVM hosts.
# It runs the ptrec binary on the managed host with --json and reports what ptrec printed.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ptrec
short_description: Reconcile PCI passthrough (vfio-pci, pci-stub, SR-IOV VFs) with ptrec
version_added: "1.0.0"
description:
  - Runs the C(ptrec) binary on the managed host to bring its PCI devices to a desired state
    (C(apiVersion) C(ptrec/v1), C(kind) C(HostConfig)) - which functions are hidden from the host on
    C(vfio-pci) or C(pci-stub), how many SR-IOV VFs each physical function has, and which driver
    the VFs use.
  - The desired state is given inline with C(desired_state) or as a file on the managed host with
    C(desired_state_file). Inline desired states are sent to ptrec on standard input as JSON
    (JSON is YAML, so ptrec reads it as it reads a file) with C(-f -); nothing is written to disk.
  - In check mode the module runs C(ptrec plan --json) and changes nothing. Otherwise it runs
    C(ptrec apply --json --auto-approve), which plans, applies, reads every write back and undoes
    the whole run if a step fails.
  - C(changed) is what ptrec reports. In check mode it is true when the plan has actions; on apply
    it is true when at least one step was carried out. A host that already matches the desired
    state reports C(changed=false).
  - The module fails when the desired state is invalid (the message names C(file:line:column) for
    every problem), when ptrec refuses the plan (for example a device in use without C(force)),
    when the apply fails (ptrec has then rolled the run back), and when ptrec cannot be run.
  - The command is run from an argument list, never through a shell.
author:
  - ptrec maintainers
notes:
  - Needs ptrec on the managed host; the role C(ptrec.passthrough.passthrough) can install it.
  - ptrec works on the live host only as root; use C(become) for real hosts.
  - Findings with severity C(warning) (for example a device taken with C(force)) are shown as
    Ansible warnings and returned in C(findings).
  - >-
    Quote PCI addresses in YAML, as in C(device: "0000:03:00.0"). Ansible reads YAML 1.1, where an
    unquoted C(0000:03:00.0) is the base-60 number 180.0; the module fails with a hint when an
    inline desired state carries a number where ptrec expects an address, interface or id.
requirements:
  - ptrec (the binary) on the managed host, JSON format_version 1
  - Python 3 on the managed host
options:
  desired_state:
    description:
      - The desired state as a mapping, exactly as in a ptrec YAML file
        (C(apiVersion), C(kind), C(sriov), C(hide), ...). See ptrec's C(schema/fields.md).
      - Sent to ptrec as JSON on standard input. Positions in ptrec's messages then refer to the
        JSON text the module sent (C(<stdin>:LINE:COLUMN)); the module adds the offending line.
      - Mutually exclusive with C(desired_state_file); one of the two is required.
    type: dict
  desired_state_file:
    description:
      - Path of a desired-state YAML file on the managed host.
      - Mutually exclusive with C(desired_state).
    type: path
  root:
    description:
      - Host root ptrec works on. C(/) is the live host; any other directory is a snapshot or a
        sandbox (C(ptrec snapshot), C(ptrec sandbox create)), on which applying needs C(simulate).
    type: path
    default: /
  simulate:
    description:
      - Rehearse on a snapshot or sandbox C(root) with ptrec's simulated kernel (C(--simulate)).
        ptrec refuses it on the live host.
      - Only applies use it; a plan (check mode) only reads the root.
    type: bool
    default: false
  ptrec_path:
    description:
      - The ptrec binary. A bare name is looked up in C(PATH) and C(/usr/local/sbin),
        C(/usr/local/bin), C(/usr/sbin); a path containing C(/) is used as it is.
    type: str
    default: ptrec
  extra_args:
    description:
      - More arguments for C(ptrec plan) / C(ptrec apply), appended after the module's own, one
        list element per argument (no shell splitting). They must be valid for both subcommands
        when the task runs in check mode and for real.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Runs C(ptrec plan) and reports the actions it would take.
    support: full
  diff_mode:
    description:
      - Returns before/after text with one line per device or resource and attribute that
        changes (driver, C(sriov_numvfs), module, ...), built from the plan's actions.
    support: full
  platform:
    description: Linux hosts with sysfs.
    platforms: posix
    support: full
'''

EXAMPLES = r'''
- name: Give port 0 of the 82576 seven VFs for guests, port 1 four VFs for the host
  ptrec.passthrough.ptrec:
    desired_state:
      apiVersion: ptrec/v1
      kind: HostConfig
      sriov:
        - device: "0000:03:00.0"
          numVfs: 7
          vfDriver: vfio-pci
        - device: "0000:03:00.1"
          numVfs: 4
  register: ptrec_result

- name: Apply the desired state kept in a file on the host
  ptrec.passthrough.ptrec:
    desired_state_file: /etc/ptrec/desired-state.yaml
    ptrec_path: /usr/local/sbin/ptrec

- name: Only show what would change (same as running the play with --check)
  ptrec.passthrough.ptrec:
    desired_state_file: /etc/ptrec/desired-state.yaml
  check_mode: true
  register: ptrec_plan

- name: Rehearse on a sandbox copy of a host (ptrec sandbox create / ptrec snapshot)
  ptrec.passthrough.ptrec:
    root: /srv/ptrec/sandboxes/compute-17
    simulate: true
    desired_state:
      apiVersion: ptrec/v1
      kind: HostConfig
      hide:
        - device: "0000:02:00.0"
          group: include

- name: Reboot only when ptrec says a change needs one
  ansible.builtin.reboot:
  when: ptrec_result.reboot_required
'''

RETURN = r'''
changed:
  description:
    - Whether the host changed (apply) or would change (check mode), as ptrec reports it.
  returned: always
  type: bool
  sample: true
reboot_required:
  description:
    - Whether the host needs a reboot - an action that takes effect at the next boot, or a
      change configured earlier that is not running yet (C(pending_reboot)). Can be true with
      C(changed=false).
  returned: when ptrec produced a plan
  type: bool
  sample: false
pending_reboot:
  description:
    - What is already configured for the next boot but not running (kernel arguments, module
      options), one text per item, as ptrec reports it. Empty with a ptrec that does not report it.
  returned: when ptrec produced a plan
  type: list
  elements: str
  sample: []
actions:
  description:
    - The plan's actions in order, as ptrec prints them (C(ptrec plan --json)), including the
      kind's parameters (C(driver), C(num_vfs), C(module), ...).
  returned: when ptrec produced a plan
  type: list
  elements: dict
  contains:
    id:
      description: Position in the plan; C(deps) refer to it.
      type: int
      sample: 0
    kind:
      description: C(set_num_vfs), C(bind), C(release), C(load_module), C(reload_module), ...
      type: str
      sample: set_num_vfs
    phase:
      description: Plan phase the action belongs to.
      type: str
      sample: vf_count
    symbol:
      description: C(+) add, C(~) change, C(-) give back.
      type: str
      sample: "+"
    device:
      description: PCI address the action works on.
      type: str
      sample: "0000:03:00.0"
    subject:
      description: Human-readable name of what changes.
      type: str
      sample: VF 0 of 0000:03:00.0 (0000:03:10.0)
    before:
      description: Value now.
      type: str
      sample: "0"
    after:
      description: Value after the action.
      type: str
      sample: "7"
    reason:
      description: Why ptrec plans the action, with the position of the entry that asks for it.
      type: str
      sample: "sriov[0] (/etc/ptrec/desired-state.yaml:9:5) wants numVfs 7"
    deps:
      description: Ids of actions that run first.
      type: list
      elements: int
      sample: []
    disrupts:
      description: What the action takes away from the host.
      type: list
      elements: str
      sample: ["network interface enp3s0f1 goes away"]
    reboot_required:
      description: Whether this action needs a reboot.
      type: bool
      sample: false
  sample:
    - id: 0
      kind: set_num_vfs
      phase: vf_count
      symbol: "+"
      device: "0000:03:00.0"
      subject: "0000:03:00.0"
      before: "0"
      after: "7"
      num_vfs: 7
      from_num_vfs: 0
      autoprobe_off: true
      deps: []
      disrupts: []
      reboot_required: false
      reason: sriov[0] (/etc/ptrec/desired-state.yaml:9:5) wants numVfs 7
plan:
  description: The plan's summary, counted by action symbol.
  returned: when ptrec produced a plan
  type: dict
  contains:
    add:
      description: Actions that add (C(+)).
      type: int
    change:
      description: Actions that change (C(~)).
      type: int
    remove:
      description: Actions that give back (C(-)).
      type: int
  sample: {"add": 9, "change": 0, "remove": 0}
warnings:
  description:
    - The findings of severity C(warning), one text each (subject, message, position, hint), also
      shown as Ansible warnings.
  returned: when ptrec reported warnings (Ansible drops the key when the list is empty)
  type: list
  elements: str
  sample: ["ptrec: 0000:03:00.1 interface enp3s0f1 is up with an address; hide[0] will take it anyway (force: true)
      (/etc/ptrec/desired-state.yaml:19:5)"]
findings:
  description:
    - Everything ptrec found while planning, warnings and refusals, with a hint and the position
      in the desired state.
  returned: when ptrec produced a plan
  type: list
  elements: dict
  sample:
    - severity: warning
      subject: "0000:03:00.1"
      message: "0000:03:00.1 interface enp3s0f1 is up with an address; hide[0] will take it anyway (force: true)"
      hint: ""
      position: "/etc/ptrec/desired-state.yaml:19:5"
refused:
  description: Whether ptrec refused the plan (the task then fails and nothing was changed).
  returned: when ptrec produced a plan
  type: bool
  sample: false
steps:
  description: The apply's steps, with status (C(done), C(failed), C(not_run), C(undone), C(undo_failed)).
  returned: when not in check mode and ptrec produced a plan
  type: list
  elements: dict
  sample: [{"id": 0, "status": "done", "message": "", "millis": 26.2}]
rolled_back:
  description: Whether a failed apply undid the steps it had done.
  returned: when not in check mode and ptrec produced a plan
  type: bool
  sample: false
diagnostics:
  description: For an invalid desired state, every problem ptrec found, with file, line and column.
  returned: when the desired state is invalid
  type: list
  elements: dict
  sample:
    - file: /etc/ptrec/desired-state.yaml
      line: 5
      column: 13
      message: sriov[0].numVfs must be an integer from 0 to 65535, got the string "four"
      hint: write the number of VFs as a plain integer, e.g. numVfs 7
      text: >-
        /etc/ptrec/desired-state.yaml:5:13: sriov[0].numVfs must be an integer from 0 to 65535,
        got the string "four" (hint: ...)
error:
  description: ptrec's error, when it printed one (C(code) and C(message)).
  returned: on failure, when ptrec printed an error
  type: dict
  sample: {"code": "invalid", "message": "..."}
msg:
  description: What went wrong, with ptrec's own message.
  returned: on failure
  type: str
rc:
  description: ptrec's exit status (plan 0 no changes, 2 changes pending, 1 error or refusal; apply 0 ok, 1 error).
  returned: when ptrec ran
  type: int
  sample: 0
cmd:
  description: The command that was run, as an argument list.
  returned: when ptrec ran
  type: list
  elements: str
  sample:
    - /usr/local/sbin/ptrec
    - apply
    - --json
    - --root
    - /
    - -f
    - /etc/ptrec/desired-state.yaml
    - --auto-approve
stderr:
  description: ptrec's standard error, when the task fails.
  returned: on failure
  type: str
diff:
  description: In diff mode, before/after text with one line per device or resource and attribute.
  returned: in diff mode, when ptrec produced a plan
  type: dict
  sample:
    before: "0000:03:00.0 sriov_numvfs: 0\n"
    after: "0000:03:00.0 sriov_numvfs: 7\n"
'''

import json  # noqa: E402 (Ansible modules import after DOCUMENTATION, EXAMPLES and RETURN)
import os  # noqa: E402
import signal  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

JSON_FORMAT_VERSION = 1

# The attribute an action kind changes, for the diff text. Kinds not listed here (ptrec adds
# kinds as it learns to manage more) are shown under their own name.
ATTRIBUTE_OF_KIND = {
    'set_num_vfs': 'sriov_numvfs',
    'bind': 'driver',
    'release': 'driver',
    'load_module': '',
    'reload_module': '',
    'edit_bootloader': '',
    'write_file': '',
}

SELECTOR_KEYS = ('device', 'interface', 'id')


def selector_number_problem(desired):
    """Returns a message when a selector in an inline desired state is a number.

    Ansible parses YAML 1.1, where an unquoted PCI address like 0000:03:00.0 or 03:00.0 is a
    base-60 number (180.0); by the time the module sees it, the address is lost.
    """
    for section in ('sriov', 'hide'):
        entries = desired.get(section)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            for key in SELECTOR_KEYS:
                value = entry.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return ('desired_state.%s[%d].%s is the number %r, not a string: Ansible reads YAML 1.1, where an '
                            'unquoted PCI address such as 0000:03:00.0 or 03:00.0 is a base-60 number. Quote it, '
                            'e.g. %s: "0000:03:00.0"' % (section, index, key, value, key))
    return None


def resolve_ptrec(module, ptrec_path):
    if '/' in ptrec_path:
        if not os.path.isfile(ptrec_path) or not os.access(ptrec_path, os.X_OK):
            module.fail_json(msg='ptrec_path %s is not an executable file' % ptrec_path)
        return ptrec_path
    found = module.get_bin_path(ptrec_path, required=False, opt_dirs=['/usr/local/sbin', '/usr/local/bin', '/usr/sbin'])
    if not found:
        module.fail_json(msg='cannot find %s in PATH, /usr/local/sbin, /usr/local/bin or /usr/sbin: install ptrec '
                             '(the role ptrec.passthrough.passthrough can) or set ptrec_path' % ptrec_path)
    return found


def build_diff(actions, root):
    """Before/after text, one line per (subject, attribute), in plan order.

    Several actions on the same subject and attribute (a count that goes through 0, say) show
    as one line: the first action's before and the last action's after.
    """
    entries = []
    index = {}
    for action in actions:
        kind = action.get('kind', '')
        subject = action.get('subject') or action.get('device') or kind
        attribute = ATTRIBUTE_OF_KIND.get(kind, kind)
        key = (subject, attribute)
        before = '' if action.get('before') is None else str(action.get('before'))
        after = '' if action.get('after') is None else str(action.get('after'))
        if key in index:
            entries[index[key]][3] = after
        else:
            index[key] = len(entries)
            entries.append([subject, attribute, before, after])

    def line(subject, attribute, value):
        label = subject + (' ' + attribute if attribute else '')
        return '%s: %s\n' % (label, value)

    return {
        'before_header': '%s (now)' % root,
        'after_header': '%s (desired state)' % root,
        'before': ''.join(line(s, a, b) for s, a, b, _ in entries),
        'after': ''.join(line(s, a, x) for s, a, _, x in entries),
    }


def finding_text(finding):
    subject = finding.get('subject') or ''
    text = finding.get('message') or ''
    if subject and not text.startswith(subject):
        text = '%s: %s' % (subject, text)
    position = finding.get('position')
    if position:
        text += ' (%s)' % position
    if finding.get('hint'):
        text += ' (hint: %s)' % finding['hint']
    return text


def diagnostics_message(doc, sent_lines):
    """One line per diagnostic, as ptrec wrote it (file:line:column: message (hint))."""
    lines = []
    for diag in doc.get('diagnostics') or []:
        text = diag.get('text') or '%s:%s:%s: %s' % (diag.get('file'), diag.get('line'), diag.get('column'),
                                                     diag.get('message'))
        line_no = diag.get('line') or 0
        if sent_lines is not None and diag.get('file') == '<stdin>' and 0 < line_no <= len(sent_lines):
            sent = sent_lines[line_no - 1].strip()
            text += ' [line %d of the inline desired_state as sent to ptrec: %s]' % (line_no, sent)
        lines.append(text)
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(
            desired_state=dict(type='dict'),
            desired_state_file=dict(type='path'),
            root=dict(type='path', default='/'),
            simulate=dict(type='bool', default=False),
            ptrec_path=dict(type='str', default='ptrec'),
            extra_args=dict(type='list', elements='str', default=[]),
        ),
        mutually_exclusive=[('desired_state', 'desired_state_file')],
        required_one_of=[('desired_state', 'desired_state_file')],
        supports_check_mode=True,
    )
    params = module.params
    root = params['root']

    stdin_text = None
    sent_lines = None
    if params['desired_state'] is not None:
        problem = selector_number_problem(params['desired_state'])
        if problem:
            module.fail_json(msg=problem)
        stdin_text = json.dumps(params['desired_state'], indent=2, ensure_ascii=False) + '\n'
        sent_lines = stdin_text.splitlines()
        source = '-'
    else:
        source = params['desired_state_file']

    binary = resolve_ptrec(module, params['ptrec_path'])
    if module.check_mode:
        cmd = [binary, 'plan', '--json', '--root', root, '-f', source]
    else:
        cmd = [binary, 'apply', '--json', '--root', root, '-f', source]
        if params['simulate']:
            cmd.append('--simulate')
        cmd.append('--auto-approve')
    cmd.extend(params['extra_args'])

    # expand_user_and_vars=False: the arguments go to ptrec exactly as given ($ and ~ included).
    rc, stdout, stderr = module.run_command(cmd, data=stdin_text, expand_user_and_vars=False, check_rc=False)

    result = dict(changed=False, rc=rc, cmd=cmd)

    def fail(msg, **extra):
        result.update(extra)
        result['stderr'] = stderr
        module.fail_json(msg=msg, **result)

    try:
        doc = json.loads(stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        if rc is not None and rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = 'signal %d' % -rc
            what = 'ptrec was killed by %s' % name
        else:
            what = 'ptrec exited with status %s' % rc
        detail = (stderr or '').strip()
        if not detail and stdout:
            detail = 'stdout ends with: ' + stdout[-300:].strip()
        fail('%s and printed no complete JSON document (%d bytes on stdout): %s' % (
            what, len(stdout or ''), detail or 'no output'))

    version = doc.get('format_version')
    if version != JSON_FORMAT_VERSION:
        fail('ptrec printed JSON format_version %r; this module reads format_version %d: use a ptrec and a '
             'ptrec.passthrough collection that match' % (version, JSON_FORMAT_VERSION))

    kind = doc.get('kind')
    if kind == 'error':
        error = doc.get('error') or {}
        diag_lines = diagnostics_message(doc, sent_lines)
        if diag_lines:
            msg = 'ptrec: the desired state is invalid; nothing was planned or changed:\n' + '\n'.join(diag_lines)
            fail(msg, error=error, diagnostics=doc.get('diagnostics'))
        fail('ptrec: %s' % error.get('message', 'unknown error'), error=error)

    if kind not in ('plan', 'apply'):
        fail('ptrec printed a JSON document of kind %r where a plan or an apply was expected' % kind)

    findings = doc.get('findings') or []
    actions = doc.get('actions') or []
    result.update(
        reboot_required=bool(doc.get('reboot_required')),
        pending_reboot=doc.get('pending_reboot') or [],
        actions=actions,
        plan=doc.get('summary') or {},
        findings=findings,
        refused=bool(doc.get('refused')),
    )
    if kind == 'apply':
        result.update(steps=doc.get('steps') or [], rolled_back=bool(doc.get('rolled_back')))

    # Returned as `warnings`: AnsibleModule passes each to module.warn, so they are shown as
    # Ansible warnings too (and the controller drops the key when the list is empty).
    result['warnings'] = ['ptrec: ' + finding_text(f) for f in findings if f.get('severity') == 'warning']

    if doc.get('refused'):
        refusals = [finding_text(f) for f in findings if f.get('severity') == 'refusal']
        fail('ptrec refused the plan; nothing was changed: ' + '; '.join(refusals or ['(no refusal given)']))

    if kind == 'plan':
        result['changed'] = bool(doc.get('changes'))
        if rc not in (0, 2):
            fail('ptrec plan exited with status %s: %s' % (rc, (stderr or '').strip()))
    else:
        result['changed'] = bool(doc.get('changed'))
        if rc != 0 or not doc.get('applied'):
            error = doc.get('error') or {}
            msg = 'ptrec apply failed: %s' % (error.get('message') or (stderr or '').strip() or 'exit status %s' % rc)
            failed_steps = [s for s in doc.get('steps') or [] if s.get('status') in ('failed', 'undo_failed')]
            for step in failed_steps:
                if step.get('message') and step['message'] != error.get('message'):
                    msg += '; step %s %s: %s' % (step.get('id'), step.get('status'), step['message'])
            if doc.get('rolled_back'):
                msg += '; every step done was undone (rolled back)'
            fail(msg, error=error)

    if module._diff:
        result['diff'] = build_diff(actions, root)

    # Said explicitly: Ansible counts a result with a non-zero rc as failed unless it says
    # otherwise, and rc 2 is ptrec plan's "changes pending".
    result['failed'] = False
    module.exit_json(**result)


if __name__ == '__main__':
    main()
