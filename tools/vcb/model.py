"""The VMware Consolidated Backup command line as data: commands, flags, grammar, confidence.

One table (`COMMANDS`) feeds the linter, the builder, the job writer, the reference and
the tests. Every fact carries how sure opskb is of it, exactly as the project's VCB
reference tags it: documented in a cited source, inferred from how real scripts use it,
or recalled and unverified. Nothing here runs; it only describes.
"""

from __future__ import annotations

from .types import (  # noqa: F401 - the model's vocabulary, re-exported
    PLACE_NAMES,
    PLACE_OF_SHELL,
    SHELL_OF_PLACE,
    TAGS,
    Choice,
    Command,
    Confidence,
    Example,
    Flag,
    Form,
    I,
    Kind,
    Place,
    SpecType,
    U,
    V,
    VcbError,
)

# The VM spec `type:value` [V]; the type is case-insensitive [V].
SPEC_TYPES: dict[str, SpecType] = {
    spec.name: spec
    for spec in (
        SpecType("any", "every VM (`any:`, also written `any` or `Any:*`)", V, True, r".*"),
        SpecType("name", "the VM's display name, exact and case-sensitive", V),
        SpecType(
            "ipaddr",
            "the guest's IP address, known only while VMware Tools runs",
            V,
            value_pattern=r"[0-9A-Fa-f.:]+",
        ),
        SpecType("uuid", "the VM's BIOS UUID", V, value_pattern=r"[0-9A-Fa-f -]+"),
        SpecType(
            "moref",
            "managed object reference: a number on ESX (96), vm-NNN via VC",
            V,
            value_pattern=r"(vm-)?[0-9]+",
        ),
        SpecType("powerstate", "every VM that is powered on, or off", V, True, r"on|off"),
    )
}
BARE_SPECS = ("any",)  # spec words accepted without a colon [V]

LOGIN_FLAGS = (
    Flag(
        "-h",
        "HOST",
        (Kind.HOST,),
        "VirtualCenter or ESX host to talk to",
        V,
        default="backuptools.conf (ESX) or config.js (proxy), else prompt",
        default_confidence=V,
    ),
    Flag(
        "-u",
        "USER",
        (Kind.TEXT,),
        "user name on that host",
        V,
        default="backuptools.conf (ESX) or config.js (proxy), else prompt",
        default_confidence=V,
    ),
    Flag(
        "-p",
        "PASSWORD",
        (Kind.TEXT,),
        "password; visible to every user of the machine",
        V,
        default="backuptools.conf (ESX) or config.js (proxy), else prompt",
        default_confidence=V,
        secret=True,
    ),
    Flag(
        "-L",
        "LEVEL",
        (Kind.CHOICE,),
        "log level, 0 (quiet) to 6 (most verbose)",
        V,
        choices=tuple(Choice(str(level), f"log level {level}", V) for level in range(7)),
    ),
)
LOGIN = tuple(flag.name for flag in LOGIN_FLAGS)

MOUNTER_FLAGS = (
    Flag("-a", "SPEC", (Kind.SPEC,), "the VM to back up", V),
    Flag(
        "-r",
        "DEST",
        (Kind.PATH,),
        "destination directory; must not exist yet",
        V,
        meaning_confidence=I,  # "must not exist" is inferred
    ),
    Flag(
        "-t",
        "TYPE",
        (Kind.CHOICE,),
        "backup type",
        V,
        default="fullvm",
        default_confidence=I,
        choices=(
            Choice("fullvm", "export the whole VM: disks, configuration, logs", V),
            Choice("file", "mount a Windows guest's drives under DEST\\letters\\C ...", V),
        ),
    ),
    Flag(
        "-m",
        "MODE",
        (Kind.CHOICE,),
        "transport used to read the disks",
        V,
        choices=(
            Choice("san", "read the VMFS LUNs straight over the SAN", V),
            Choice("nbd", "read the disks over the network from the ESX host", V),
            Choice("hotadd", "attach the disks to a proxy that is itself a VM", V),
            Choice("nbdssl", "nbd, encrypted", U),
            Choice("cos", "through the ESX service console", U),
        ),
    ),
    Flag(
        "-M",
        "0|1",
        (Kind.CHOICE,),
        "1 writes each disk as one monolithic file",
        V,
        meaning_confidence=I,
        choices=(Choice("0", "split disks into extents", I), Choice("1", "monolithic disks", V)),
    ),
    Flag(
        "-F",
        "0|1",
        (Kind.CHOICE,),
        "seen in real scripts; meaning unknown",
        V,
        meaning_confidence=U,
        choices=(Choice("0", "meaning unknown", V), Choice("1", "meaning unknown", V)),
    ),
    Flag("-U", "MOUNTPOINT", (Kind.PATH,), "unmount a backup made with -r MOUNTPOINT", U),
    Flag("-d", "MOUNTPOINT", (Kind.PATH,), "unmount, as the 2006 write-up has it", U),
)

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command(
            "vcbVmName",
            "Lists the VMs that a VM spec selects, with their moref, name, uuid and IP address.",
            {Place.PROXY: V, Place.CONSOLE: V},
            (Form("list", "-s", ("-s",), (), "list the VMs a spec selects", I),),
            (
                Example(
                    "vcbVmName.exe -h vc01 -u vcb -s any:", "cmd", "every VM VirtualCenter knows"
                ),
                Example(
                    "vcbVmName -h localhost -s powerstate:on", "sh", "the running VMs of this ESX"
                ),
            ),
        ),
        Command(
            "vcbMounter",
            "Snapshots a VM and exports it (fullvm) or mounts its drives (file) on the caller.",
            {Place.PROXY: V, Place.CONSOLE: V},
            (
                Form(
                    "backup",
                    "-a",
                    ("-a", "-r"),
                    ("-t", "-m", "-M", "-F"),
                    "back up the VM that SPEC selects into DEST",
                    I,
                ),
                Form("unmount", "-U", ("-U",), (), "unmount a backup (flag unverified)", U),
                Form("unmount-d", "-d", ("-d",), (), "unmount, as the 2006 write-up has it", U),
            ),
            (
                Example(
                    "vcbMounter.exe -h vc01 -u vcb -a moref:vm-123 -r E:\\VMmount\\VM1"
                    " -t fullvm -m san",
                    "cmd",
                    "export a whole VM over the SAN",
                ),
                Example(
                    'vcbMounter.exe -a name:VM1 -r "E:\\VM backups\\VM1" -t file -m nbd',
                    "cmd",
                    "mount a Windows guest's drives; a path with a space is quoted",
                ),
                Example(
                    "/usr/sbin/vcbMounter -h localhost -a name:vm1 -r /vmimages/vm1",
                    "sh",
                    "export a VM to the service console's disk",
                ),
            ),
        ),
        Command(
            "mountvm",
            "Mounts a disk of an exported VM on the proxy, read from its .vmdk descriptor.",
            {Place.PROXY: I},
            (
                Form("mount", "-d", ("-d", "-sysdl"), ("-cycleId",), "mount VMDK at DIR", U),
                Form("unmount", "-u", ("-u",), (), "unmount the disk mounted at DIR", U),
            ),
            (
                Example(
                    "mountvm.exe -d E:\\VMmount\\VM1\\scsi0-0-0-VM1.vmdk"
                    " -cycleId -sysdl F:\\mnt\\VM1",
                    "cmd",
                    "mount the descriptor, not an -s00N extent",
                ),
                Example("mountvm.exe -u F:\\mnt\\VM1", "cmd", "unmount it again"),
            ),
            login=False,
        ),
        Command(
            "vcbRestore",
            "Restores an exported VM onto an ESX host, over the original or as a copy"
            " described by an edited catalog.",
            {Place.CONSOLE: V},
            (Form("restore", "-s", ("-s",), ("-a", "-b"), "restore the export in BACKUPDIR", I),),
            (
                Example(
                    "vcbRestore -h localhost -u root -s /vmimages/vm1 -b overwrite",
                    "sh",
                    "restore over the existing VM",
                ),
                Example(
                    "vcbRestore -h localhost -s /vmimages/vm1 -a /vmimages/vm1-copy.catalog",
                    "sh",
                    "restore a copy described by an edited catalog",
                ),
            ),
            wrong_place_code="restore-on-proxy",
        ),
        Command(
            "vcbSnapshot",
            "Creates, finds or deletes a VM snapshot by hand.",
            {Place.CONSOLE: V, Place.PROXY: U},
            (
                Form("create", "-c", ("-c",), (), "create snapshot NAME; prints its SsId:", V),
                Form("find", "-f", ("-f",), (), "find the snapshots named NAME", V),
                Form("delete", "-d", ("-d",), (), "delete the snapshot ssid:ID", V),
            ),
            (
                Example(
                    "vcbSnapshot -h localhost -c moref:96 before-upgrade",
                    "sh",
                    "snapshot VM 96; note the SsId it prints",
                ),
                Example(
                    "vcbSnapshot -h localhost -d moref:96 ssid:42", "sh", "delete that snapshot"
                ),
            ),
        ),
        Command(
            "vcbSnapAll",
            "Backs up every VM a spec selects, each into its own directory under DEST.",
            {Place.CONSOLE: V, Place.PROXY: U},
            (Form("backup", "-a", ("-a", "-r"), ("-M",), "back up every VM SPEC selects", I),),
            (
                Example(
                    "vcbSnapAll -h vc01 -u vcb -a powerstate:on -r /vmfs/volumes/x -M 1",
                    "sh",
                    "back up every running VM",
                ),
            ),
        ),
        Command(
            "vcbUtil",
            "Asks the host for information: reachability, resource pools, VM folders.",
            {Place.CONSOLE: V, Place.PROXY: U},
            (Form("query", "-c", ("-c",), (), "run one query", V),),
            (
                Example(
                    "vcbUtil -h localhost -u root -c resourcepools",
                    "sh",
                    "list resource pools (for a catalog's resourcepool=)",
                ),
            ),
        ),
    )
}

# Flags by command; login flags are shared by every command that talks to a host.
FLAGS: dict[str, dict[str, Flag]] = {
    "vcbVmName": {"-s": Flag("-s", "SPEC", (Kind.SPEC,), "the VMs to list", V)},
    "vcbMounter": {flag.name: flag for flag in MOUNTER_FLAGS},
    "mountvm": {
        "-d": Flag("-d", "VMDK", (Kind.PATH,), "the disk descriptor to mount", U),
        "-cycleId": Flag("-cycleId", "", (), "as given in the 2006 write-up; meaning unknown", U),
        "-sysdl": Flag("-sysdl", "DIR", (Kind.PATH,), "directory to mount the disk at", U),
        "-u": Flag("-u", "DIR", (Kind.PATH,), "unmount the disk mounted at DIR", U),
    },
    "vcbRestore": {
        "-s": Flag("-s", "BACKUPDIR", (Kind.PATH,), "the exported VM's directory", V),
        "-a": Flag("-a", "CATALOG", (Kind.PATH,), "an edited catalog: restore a copy", V),
        "-b": Flag(
            "-b",
            "BEHAVIOUR",
            (Kind.CHOICE,),
            "what to do when the VM exists",
            V,
            choices=(
                Choice("overwrite", "replace the existing VM", V),
                Choice("prompt", "ask", U),
                Choice("keep", "keep it", U),
                Choice("abort", "stop", U),
            ),
        ),
    },
    "vcbSnapshot": {
        "-c": Flag("-c", "SPEC NAME", (Kind.SPEC, Kind.TEXT), "create snapshot NAME", V),
        "-f": Flag(
            "-f",
            "SPEC NAME",
            (Kind.SPEC, Kind.TEXT),
            "find snapshots named NAME",
            V,
            meaning_confidence=I,
        ),
        "-d": Flag("-d", "SPEC ssid:ID", (Kind.SPEC, Kind.SNAPSHOT_ID), "delete a snapshot", V),
    },
    "vcbSnapAll": {
        "-a": Flag("-a", "SPEC", (Kind.SPEC,), "the VMs to back up", V),
        "-r": Flag("-r", "DEST", (Kind.PATH,), "directory for the backups", V),
        "-M": MOUNTER_FLAGS[4],
    },
    "vcbUtil": {
        "-c": Flag(
            "-c",
            "QUERY",
            (Kind.CHOICE,),
            "what to ask the host",
            V,
            choices=(
                Choice("ping", "check the host answers", V),
                Choice("resourcepools", "list resource pools", V),
                Choice("vmfolders", "list VM folders", V),
            ),
        ),
    },
}
for _name, _command in COMMANDS.items():
    if _command.login:
        FLAGS[_name] = {**FLAGS[_name], **{flag.name: flag for flag in LOGIN_FLAGS}}

# Names the 2006 write-up used for binaries that do not exist, and what was meant [V].
MISNAMED = {"vmmount": "mountvm", "vmount": "mountvm"}

INSTALL_DIR = "C:\\Program Files\\VMware\\VMware Consolidated Backup Framework"  # [V]
CONSOLE_DIR = "/usr/sbin"  # [V]
CONFIG_JS = INSTALL_DIR + "\\config\\config.js"  # holds HOST, USERNAME, PASSWORD [V]
BACKUPTOOLS_CONF = "/etc/vmware/backuptools.conf"  # [V]

# What vcbVmName prints per VM [vcb.md: header and moref/name from real use, uuid/ipaddr U].
VMNAME_OUTPUT = {"Found VM:": I, "moref": I, "name": I, "uuid": U, "ipaddr": U}
VMNAME_HEADER = "Found VM:"

# The catalog's `key= value` lines that a restore-a-copy reads or edits.
CATALOG_KEYS = {
    "host": ("the ESX host the VM is restored to", V),
    "resourcepool": ('its resource pool: "/ha-folder-root/ha-datacenter/host/ESX/Resources"', V),
    "config.vmx": ('the .vmx path: "[datastore] folder/name.vmx"', V),
    "display_name": ("the VM's name", U),
}

# Guest scripts run around the quiesced snapshot, by guest era.
FREEZE_SCRIPTS = (
    ("Linux", "/usr/sbin/pre-freeze-script, /usr/sbin/post-thaw-script", V),
    (
        "Windows, ESX 3.5 Update 1 and before",
        "C:\\Windows\\pre-freeze-script.bat, C:\\Windows\\post-thaw-script.bat",
        V,
    ),
    (
        "Windows, ESX 3.5 Update 2 and later (VSS)",
        "C:\\Program Files\\VMware\\VMware Tools"
        "\\backupScripts.d\\*.bat, run with freeze, then thaw or freezeFail",
        V,
    ),
)

# Files a fullvm export holds, as the 2006 write-up listed them for a VM called MyVM [I].
EXPORT_FILES = (
    ("catalog", "where the VM came from; what vcbRestore reads"),
    ("{vm}.nvram", "the VM's BIOS settings"),
    ("{vm}.vmx", "the VM's configuration"),
    ("scsi0-0-0-{vm}-s001.vmdk", "disk extents"),
    ("scsi0-0-0-{vm}.vmdk", "the disk descriptor: what mountvm mounts"),
    ("unmount.dat", "read by the unmount, going by its name"),
    ("vmware.log", "the VM's logs, vmware-1.log ... the older ones"),
)


def flag_of(command: str, name: str) -> Flag | None:
    return FLAGS.get(command, {}).get(name)


def commands_with_flag(name: str) -> tuple[str, ...]:
    return tuple(sorted(command for command, flags in FLAGS.items() if name in flags))
