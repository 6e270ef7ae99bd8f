#!/usr/bin/env pwsh
<#
.SYNOPSIS
  Brings a local multi-node Fabric cluster up on loopback, shows it, tears it down.

.DESCRIPTION
  up      builds fabric-node and fabric, starts N nodes with their own remoting and management
          ports and data directories (no seed nodes: they find each other through Cluster
          Bootstrap with config discovery), waits until all are Up and prints the members table.
  status  which of the started processes live, and the members table.
  down    stops exactly the processes `up` started (by pid, gracefully: SIGTERM, then SIGKILL
          after 15 s) and removes the state directory.
  logs    prints the end of every node's log, or of one node with -Node N.

  Run with PowerShell 7.6.9 from the repository's tool manifest:
    dotnet tool restore
    dotnet pwsh ./cluster.ps1 up -Nodes 3 [-Db sqlite|postgres]

.EXAMPLE
  dotnet pwsh ./cluster.ps1 up -Nodes 3 -Db postgres
#>
# Not an advanced script on purpose: the common parameter -Debug has the alias -db, which would
# take -Db away from us.
param(
    [ValidateSet('up', 'status', 'down', 'logs')]
    [string] $Command,

    [ValidateRange(1, 9)]
    [int] $Nodes = 3,

    [ValidateSet('sqlite', 'postgres')]
    [string] $Db = 'sqlite',

    [int] $Node = 0,

    [int] $Lines = 40,

    [string] $StateDir = (Join-Path $PSScriptRoot '.cluster'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    [int] $TimeoutSeconds = 120
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$statePath = Join-Path $StateDir 'state.json'
$nodeProject = Join-Path $PSScriptRoot 'src/Nodes/Fabric.Node/Fabric.Node.csproj'
$consoleProject = Join-Path $PSScriptRoot 'src/Nodes/Fabric.Console/Fabric.Console.csproj'
$binNode = Join-Path $PSScriptRoot "src/Nodes/Fabric.Node/bin/$Configuration/net10.0/fabric-node.dll"
$binConsole = Join-Path $PSScriptRoot "src/Nodes/Fabric.Console/bin/$Configuration/net10.0/fabric.dll"
$pgConnection = 'Host=127.0.0.1;Port=5432;Username=fabric;Password=fabric;Database=fabric_cluster'

function Fail([string] $message) {
    [Console]::Error.WriteLine("cluster.ps1: $message")
    exit 1
}

function Get-FreePort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { return ([System.Net.IPEndPoint]$listener.LocalEndpoint).Port } finally { $listener.Stop() }
}

function Read-State {
    if (-not (Test-Path $statePath)) { return $null }
    return Get-Content -Raw $statePath | ConvertFrom-Json
}

function Test-OurProcess([int] $processId) {
    # A pid is ours only while it still runs fabric-node (guards against pid reuse).
    $cmdline = "/proc/$processId/cmdline"
    if (-not (Test-Path $cmdline)) { return $false }
    try { $text = [System.IO.File]::ReadAllText($cmdline) } catch { return $false }
    return $text.Contains('fabric-node')
}

function Invoke-Console([string[]] $arguments) {
    & dotnet $binConsole @arguments | Out-Host
    return $LASTEXITCODE
}

function Build-Fabric {
    Write-Host "building fabric-node and fabric ($Configuration)..."
    foreach ($project in @($nodeProject, $consoleProject)) {
        $output = & dotnet build $project -c $Configuration -nologo -v quiet -clp:ErrorsOnly 2>&1
        if ($LASTEXITCODE -ne 0) { $output | Out-Host; Fail "build of $project failed" }
    }
}

function New-NodeConfig($n, $all) {
    $endpoints = ($all | ForEach-Object { "`"127.0.0.1:$($_.management)`"" }) -join ', '
    $journal = if ($Db -eq 'postgres') {
        "persistence { provider = postgresql, postgresql.connection-string = `"$pgConnection`" }"
    } else { 'persistence.provider = sqlite' }
    return @"
# Written by cluster.ps1 for node $($n.index); removed by 'cluster.ps1 down'.
akka.cluster.roles = [capture, supervisor]
akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = $($n.remoting) }
akka.discovery.config.services.fabric-local.endpoints = [ $endpoints ]
fabric {
  data-dir = "$($n.dataDir)"
  management.http { host = 127.0.0.1, port = $($n.management) }
  cluster.discovery { method = config, service-name = fabric-local, required-contact-points = $($all.Count) }
  $journal
}
"@
}

function Initialize-Postgres {
    $exists = & su postgres -c "psql -qtAc `"SELECT 1 FROM pg_database WHERE datname='fabric_cluster'`""
    if ($LASTEXITCODE -ne 0) { Fail 'PostgreSQL is not reachable (pg_ctlcluster 15 main start; see scripts/prereqs.sh)' }
    if ("$exists".Trim() -ne '1') {
        & su postgres -c 'psql -qc "CREATE DATABASE fabric_cluster OWNER fabric"' | Out-Null
        if ($LASTEXITCODE -ne 0) { Fail 'cannot create database fabric_cluster' }
    }
}

function Get-MembersView([int] $port) {
    try {
        return Invoke-RestMethod -Uri "http://127.0.0.1:$port/cluster/members" -TimeoutSec 3
    } catch {
        return $null
    }
}

function Test-Ready([int] $port) {
    try {
        return (Invoke-WebRequest -Uri "http://127.0.0.1:$port/ready" -TimeoutSec 3 -SkipHttpErrorCheck).StatusCode -eq 200
    } catch {
        return $false
    }
}

function Wait-AllUp($state) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $started = [DateTime]::UtcNow
    while ([DateTime]::UtcNow -lt $deadline) {
        $ready = 0
        foreach ($n in $state.nodes) {
            if (-not (Test-OurProcess $n.pid)) {
                Fail "node $($n.index) (pid $($n.pid)) exited; its log: $($n.log)"
            }
            $view = Get-MembersView $n.management
            if ($null -ne $view -and (Test-Ready $n.management)) {
                $up = @($view.members | Where-Object { $_.status -eq 'Up' }).Count
                if ($up -eq $state.nodes.Count) { $ready++ }
            }
        }
        if ($ready -eq $state.nodes.Count) {
            return ([DateTime]::UtcNow - $started).TotalSeconds
        }
        Start-Sleep -Milliseconds 500
    }
    Fail "not all $($state.nodes.Count) nodes were Up and ready within $TimeoutSeconds s (see: dotnet pwsh ./cluster.ps1 logs)"
}

function Start-Cluster {
    $existing = Read-State
    if ($null -ne $existing) {
        $alive = @($existing.nodes | Where-Object { Test-OurProcess $_.pid })
        if ($alive.Count -gt 0) {
            Write-Host "a cluster started by cluster.ps1 is already running ($($alive.Count) node(s)); showing it"
            Show-Status
            return
        }
        Remove-Item -Recurse -Force $StateDir
    }

    Build-Fabric
    if ($Db -eq 'postgres') { Initialize-Postgres }
    New-Item -ItemType Directory -Force -Path $StateDir | Out-Null

    $all = @()
    for ($i = 1; $i -le $Nodes; $i++) {
        $dir = Join-Path $StateDir "node-$i"
        New-Item -ItemType Directory -Force -Path (Join-Path $dir 'data') | Out-Null
        $all += [pscustomobject]@{
            index = $i; remoting = (Get-FreePort); management = (Get-FreePort)
            dataDir = (Join-Path $dir 'data'); config = (Join-Path $dir 'node.conf')
            log = (Join-Path $dir 'node.log'); pid = 0
        }
    }

    foreach ($n in $all) {
        Set-Content -Path $n.config -Value (New-NodeConfig $n $all)
        # setsid + nohup: the node outlives this script and gets no terminal signals; $! is its pid.
        $launch = "setsid nohup dotnet '$binNode' --config '$($n.config)' > '$($n.log)' 2>&1 < /dev/null & echo `$!"
        $n.pid = [int](& /bin/sh -c $launch)
        Write-Host "node $($n.index): pid $($n.pid), remoting 127.0.0.1:$($n.remoting), management http://127.0.0.1:$($n.management)"
    }

    $state = [pscustomobject]@{ db = $Db; nodes = $all }
    $state | ConvertTo-Json -Depth 5 | Set-Content $statePath
    $seconds = Wait-AllUp $state
    Write-Host ("all {0} nodes Up after {1:0.0} s" -f $all.Count, $seconds)
    Invoke-Console @('cluster', 'members', '--node', "http://127.0.0.1:$($all[0].management)") | Out-Null
}

function Show-Status {
    $state = Read-State
    if ($null -eq $state) { Write-Host 'no cluster started by cluster.ps1 is running'; return }
    $reachable = $null
    foreach ($n in $state.nodes) {
        $alive = Test-OurProcess $n.pid
        Write-Host ("node {0}: pid {1} {2}, management http://127.0.0.1:{3}" -f $n.index, $n.pid, ($alive ? 'running' : 'not running'), $n.management)
        if ($alive -and $null -eq $reachable) { $reachable = $n }
    }
    if ($null -ne $reachable) {
        $code = Invoke-Console @('cluster', 'members', '--node', "http://127.0.0.1:$($reachable.management)")
        if ($code -ne 0) { exit $code }
    }
}

function Stop-Cluster {
    $state = Read-State
    if ($null -eq $state) { Write-Host 'no cluster started by cluster.ps1 is running'; return }
    $ours = @($state.nodes | Where-Object { Test-OurProcess $_.pid })
    foreach ($n in $ours) { & kill -TERM $n.pid }
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ([DateTime]::UtcNow -lt $deadline -and @($ours | Where-Object { Test-OurProcess $_.pid }).Count -gt 0) {
        Start-Sleep -Milliseconds 200
    }
    foreach ($n in @($ours | Where-Object { Test-OurProcess $_.pid })) {
        Write-Host "node $($n.index) (pid $($n.pid)) did not stop within 15 s: killing it"
        & kill -KILL $n.pid
    }
    foreach ($n in $state.nodes) { Write-Host "node $($n.index) (pid $($n.pid)) stopped" }
    Remove-Item -Recurse -Force $StateDir
}

function Show-Logs {
    $state = Read-State
    if ($null -eq $state) { Fail 'no cluster started by cluster.ps1 (nothing to show)' }
    $selected = if ($Node -gt 0) { @($state.nodes | Where-Object { $_.index -eq $Node }) } else { @($state.nodes) }
    if ($selected.Count -eq 0) { Fail "no node $Node (nodes: 1..$($state.nodes.Count))" }
    foreach ($n in $selected) {
        Write-Host "==> node $($n.index): $($n.log)"
        if (Test-Path $n.log) { Get-Content -Tail $Lines $n.log | Out-Host }
    }
}

if (-not $Command) {
    [Console]::Error.WriteLine('usage: dotnet pwsh ./cluster.ps1 up|status|down|logs [-Nodes N] [-Db sqlite|postgres] [-Node N]')
    exit 2
}

switch ($Command) {
    'up' { Start-Cluster }
    'status' { Show-Status }
    'down' { Stop-Cluster }
    'logs' { Show-Logs }
}
