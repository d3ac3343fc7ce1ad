$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-FsrmQuota -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-FsrmQuota"}'; exit 0 }
$r = Get-FsrmQuota -Path 'D:\Partages\Compta' -ErrorAction SilentlyContinue | Select-Object Path,Size,SoftLimit,Disabled,Template
ConvertTo-Json -InputObject $r -Depth 5 -Compress
