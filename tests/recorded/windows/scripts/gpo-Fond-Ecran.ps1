$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-GPO -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-GPO"}'; exit 0 }
$g = Get-GPO -Name 'Fond-Ecran' -ErrorAction SilentlyContinue
$r = $null
if ($g) {
  $id = '{' + $g.Id.ToString() + '}'
  $links = @(@(Get-ADDomain) + @(Get-ADOrganizationalUnit -Filter * -Properties LinkedGroupPolicyObjects) | Where-Object { $_.LinkedGroupPolicyObjects -match [regex]::Escape($id) } | ForEach-Object { $_.DistinguishedName })
  $r = [pscustomobject]@{ DisplayName = $g.DisplayName; Id = $g.Id.ToString(); GpoStatus = [int]$g.GpoStatus; LinkedTo = $links }
}
ConvertTo-Json -InputObject $r -Depth 5 -Compress
