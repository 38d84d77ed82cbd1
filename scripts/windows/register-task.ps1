<#
.SYNOPSIS
    Registers one of profilesync's nightly jobs with Windows Task Scheduler.

.DESCRIPTION
    -Job avatars (the default: Canvas avatars), observers (parent accounts from -CsvFile) or guru (Guru
    avatars). Each job is its own task with its own lock and log file: register the ones you use.
    `profilesync init --scheduler windows` prints the same with your installation's paths.

    Checks that the env file names the history (PROFILESYNC_DATABASE_URL): a task running as SYSTEM has a
    data folder of its own, so without it the task and your own commands would keep two histories and the
    task would upload every photo again. Runs `profilesync doctor` with that file first and registers
    nothing if a check fails (use -SkipDoctor to override). Then registers a daily task that runs

        <ProfilesyncExe> --env-file <EnvFile> -q --log-file <LogFile> avatars sync

    (observers sync <CsvFile> / avatars sync --target guru) in <WorkDir>, calling profilesync.exe by its
    absolute path. The log file gets every failure, the summary and the exit code, and rotates by itself on
    Windows (5 MB x 5 files). The task's "Last Run Result" is profilesync's exit code: 0 ok, 1 some users or
    rows failed (retried the next night), 2 configuration, 3 Canvas (token, permissions, unreachable),
    4 safety valve (photo folder missing or empty, unusually large plan), 5 another run of the same job still
    holds its lock. See docs\operations.md.

    Run it from an elevated PowerShell. With -RunAsUser the task runs as that (service) account, which needs
    "Log on as a batch job" and read access to the photo share; you are asked for its password once.
    Without it the task runs as SYSTEM, which reaches a network share only as the computer account.

.EXAMPLE
    .\register-task.ps1 -ProfilesyncExe 'C:\profilesync\venv\Scripts\profilesync.exe' -EnvFile 'C:\profilesync\profilesync.env'

.EXAMPLE
    .\register-task.ps1 -RunAsUser 'SCHOOL\svc-profilesync' -At '01:30' -WhatIf

.EXAMPLE
    .\register-task.ps1 -Job observers -CsvFile 'D:\SIS\parents.csv' -At '02:45'
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [ValidateSet('avatars', 'observers', 'guru')]
    [string] $Job = 'avatars',
    [string] $CsvFile = 'C:\profilesync\parents.csv',
    [string] $TaskName = "profilesync $Job",
    [string] $ProfilesyncExe = 'C:\profilesync\venv\Scripts\profilesync.exe',
    [string] $EnvFile = 'C:\profilesync\profilesync.env',
    [string] $WorkDir = 'C:\profilesync',
    [string] $LogFile = "C:\profilesync\logs\$Job.log",
    [string] $At = '02:15',
    [string] $RunAsUser = '',
    [int] $TimeLimitHours = 4,
    [switch] $SkipDoctor
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

foreach ($path in @($ProfilesyncExe, $EnvFile)) {
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        throw "Not found: $path (install profilesync, or pass -ProfilesyncExe / -EnvFile)"
    }
}
if ($Job -eq 'observers' -and -not (Test-Path -LiteralPath $CsvFile -PathType Leaf)) {
    throw "Not found: $CsvFile (pass -CsvFile with the SIS export of parents)"
}
# One history for the task and for you: SYSTEM's default data folder is not yours.
if (-not (Select-String -LiteralPath $EnvFile -Pattern '^\s*PROFILESYNC_DATABASE_URL\s*=\s*\S' -Quiet)) {
    throw "$EnvFile does not set PROFILESYNC_DATABASE_URL: the task would keep a history of its own. " +
        "Set it (e.g. sqlite:///C:/profilesync/history.sqlite3; 'profilesync init' writes it)"
}
New-Item -ItemType Directory -Force -Path $WorkDir, (Split-Path -Parent $LogFile) | Out-Null

if (-not $SkipDoctor) {
    # Checks the token, its permissions, the photo folder and the database, as this (elevated) user.
    Push-Location $WorkDir
    try {
        & $ProfilesyncExe --env-file $EnvFile doctor
        $doctorExit = $LASTEXITCODE
    } finally {
        Pop-Location
    }
    if ($doctorExit -ne 0) {
        throw "profilesync doctor failed (exit $doctorExit): fix what it reports, or pass -SkipDoctor"
    }
}

# Arguments with spaces are quoted for the task's command line.
function Quote([string] $value) { if ($value -match '\s') { '"' + $value + '"' } else { $value } }
$jobArguments = @{
    'avatars'   = "avatars sync"
    'observers' = "observers sync $(Quote $CsvFile)"
    'guru'      = "avatars sync --target guru"
}[$Job]
$arguments = "--env-file $(Quote $EnvFile) -q --log-file $(Quote $LogFile) $jobArguments"

$action = New-ScheduledTaskAction -Execute $ProfilesyncExe -Argument $arguments -WorkingDirectory $WorkDir
$trigger = New-ScheduledTaskTrigger -Daily -At $At
# IgnoreNew: never two runs at once (profilesync's own lock would make the second exit 5 anyway).
# StartWhenAvailable: a night missed while the server was off runs at the next start.
$settings = New-ScheduledTaskSettingsSet `
    -MultipleInstances IgnoreNew `
    -StartWhenAvailable `
    -ExecutionTimeLimit (New-TimeSpan -Hours $TimeLimitHours) `
    -RestartCount 0

$description = "profilesync $Job job. Last Run Result = exit code " +
    "(0 ok, 1 some users failed, 2 configuration, 3 Canvas, 4 safety valve, 5 locked). Log: $LogFile"

if ($PSCmdlet.ShouldProcess($TaskName, "Register a daily task at $At running $ProfilesyncExe $arguments")) {
    if ($RunAsUser) {
        $credential = Get-Credential -UserName $RunAsUser -Message "Password of $RunAsUser (stored by Task Scheduler)"
        Register-ScheduledTask -TaskName $TaskName -Description $description -Action $action -Trigger $trigger `
            -Settings $settings -User $RunAsUser -Password $credential.GetNetworkCredential().Password `
            -RunLevel Limited -Force | Out-Null
    } else {
        $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Limited
        Register-ScheduledTask -TaskName $TaskName -Description $description -Action $action -Trigger $trigger `
            -Settings $settings -Principal $principal -Force | Out-Null
    }
    Write-Host "Registered '$TaskName': daily at $At. Run it now with: Start-ScheduledTask -TaskName '$TaskName'"
    Write-Host "Then check: Get-ScheduledTaskInfo -TaskName '$TaskName' (LastTaskResult is the exit code)"
}
