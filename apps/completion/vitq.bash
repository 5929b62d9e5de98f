# bash completion for vitq. The subcommands, options and choices come from the installed binary's
# own --help (and `vitq passes` for the recipes), so they cannot go stale; each help text is read
# once per shell.
_vitq_help() {
  local key="_vitq_help_${1//[^A-Za-z0-9_]/_}"
  if [[ -z ${!key+set} ]]; then
    # shellcheck disable=SC2086  # an empty $1 is the top-level help
    printf -v "$key" '%s' "$(command vitq $1 --help 2>/dev/null)"
  fi
  printf '%s\n' "${!key}"
}

_vitq() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local sub="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --config) ((i++)) ;;
      -*) ;;
      *) sub=${COMP_WORDS[i]}; break ;;
    esac
  done
  COMPREPLY=()
  if [[ -z $sub ]]; then
    local subs
    subs=$(_vitq_help "" | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}')
    mapfile -t COMPREPLY < <(compgen -W "$subs --help --version --verbose --quiet --config" -- "$cur")
    return
  fi
  local help
  help=$(_vitq_help "$sub")
  if [[ $prev == --recipe ]]; then
    local recipes
    recipes=$(command vitq passes 2>/dev/null | sed -n '2,/^$/p' | sed -n 's/^  \([a-z0-9-]*\): .*/\1/p')
    mapfile -t COMPREPLY < <(compgen -W "$recipes auto" -- "$cur")
    return
  fi
  if [[ $prev == -* ]]; then
    # A choice list in the help line, e.g. "--placement TEXT:{integer,inputs}".
    local choices
    choices=$(printf '%s\n' "$help" | grep -E -- "(^|[ ,])$prev [A-Z]+:\{" | head -n 1 | sed 's/.*:{\([^}]*\)}.*/\1/' | tr ',' ' ')
    if [[ -n $choices ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
      return
    fi
  fi
  if [[ $cur == -* ]]; then
    local options
    options=$(printf '%s\n' "$help" | grep -oE -- '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,' | sort -u)
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    return
  fi
  mapfile -t COMPREPLY < <(compgen -f -- "$cur")  # models, data, outputs
}
complete -o filenames -F _vitq vitq
