; Desktop Chat for Windows: a per-user installer (no administrator rights needed).
; Build: makensis /DVERSION=0.1.0 desktop-chat.nsi   (from this folder, after the PyInstaller build)
Unicode true
!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef SOURCE
  !define SOURCE "..\..\dist\desktop-chat"
!endif
!ifndef OUTFILE
  !define OUTFILE "..\..\dist\DesktopChat-${VERSION}-installer.exe"
!endif
!define APPNAME "Desktop Chat"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\DesktopChat"

Name "${APPNAME}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APPNAME}"
InstallDirRegKey HKCU "Software\DesktopChat" "InstallDir"
Icon "..\..\resources\icons\desktop-chat.ico"
UninstallIcon "..\..\resources\icons\desktop-chat.ico"
SetCompressor /SOLID lzma

!include "MUI2.nsh"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Install"
  SetOutPath "$INSTDIR"
  File /r "${SOURCE}\*.*"
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateShortCut "$SMPROGRAMS\${APPNAME}.lnk" "$INSTDIR\desktop-chat.exe"
  WriteRegStr HKCU "Software\DesktopChat" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTKEY}" "Publisher" "The Desktop Chat developers"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\desktop-chat.exe"
  WriteRegStr HKCU "${UNINSTKEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\${APPNAME}.lnk"
  RMDir /r "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTKEY}"
  DeleteRegKey HKCU "Software\DesktopChat"
  ; The history and settings in the user's profile are kept: they are the user's.
SectionEnd
